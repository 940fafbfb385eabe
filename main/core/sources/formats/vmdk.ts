import { readFile, stat } from 'node:fs/promises';
import { readAt } from './disk-image.js';

/** VMware VMDK descriptors: text descriptor files and the descriptor embedded in a KDMV sparse file. */

export interface VmdkExtent {
  access: string;
  sectors: number;
  type: string;
  file?: string;
}

export interface VmdkDescriptor {
  createType?: string;
  parentFileNameHint?: string;
  extents: VmdkExtent[];
}

export function parseVmdkDescriptor(text: string): VmdkDescriptor {
  const d: VmdkDescriptor = { extents: [] };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\0/g, '').trim();
    if (!line || line.startsWith('#')) continue;
    const ext = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)")?/.exec(line);
    if (ext) {
      const e: VmdkExtent = { access: ext[1]!, sectors: Number(ext[2]), type: ext[3]! };
      if (ext[4] !== undefined) e.file = ext[4];
      d.extents.push(e);
      continue;
    }
    const kv = /^([A-Za-z.]+)\s*=\s*"?([^"]*)"?$/.exec(line);
    if (kv?.[1] === 'createType') d.createType = kv[2];
    if (kv?.[1] === 'parentFileNameHint') d.parentFileNameHint = kv[2];
  }
  return d;
}

/** The descriptor of a VMDK: the whole file for a text descriptor, the embedded one for a KDMV sparse file. */
export async function readVmdkDescriptor(p: string): Promise<VmdkDescriptor | undefined> {
  const head = await readAt(p, 0, 512);
  if (head.subarray(0, 4).toString('latin1') === 'KDMV') {
    const descSector = head.readBigUInt64LE(28);
    const descSectors = head.readBigUInt64LE(36);
    if (descSector === 0n || descSectors === 0n || descSectors > 2048n) return undefined;
    const text = (await readAt(p, Number(descSector) * 512, Number(descSectors) * 512)).toString('utf8');
    return parseVmdkDescriptor(text);
  }
  if (!/^\s*# Disk DescriptorFile/.test(head.toString('latin1'))) return undefined;
  const st = await stat(p);
  if (st.size > 1024 * 1024) return undefined;
  return parseVmdkDescriptor(await readFile(p, 'utf8'));
}

