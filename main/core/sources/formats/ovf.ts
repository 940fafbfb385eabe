import path from 'node:path';
import type { DiskConfinement } from '../confinement.js';
import type { DiscoveredVm } from '../types.js';
import { describeAll, resolveDefinitionPath } from './disk-chain.js';
import { parseXml, xmlAttr, xmlChild as child, xmlList, xmlText } from './xml.js';

/** OVF envelopes: the files an exported appliance references. */

export interface OvfDefinition {
  id?: string;
  name?: string;
  files: { id?: string; href: string }[];
}

/** An OVF envelope, or undefined if the root is not Envelope. */
export function parseOvf(xml: string): OvfDefinition | undefined {
  const env = child(parseXml(xml), 'Envelope');
  if (!env) return undefined;
  const files = xmlList(child(env, 'References')?.['File']).flatMap((f) => {
    const href = xmlAttr(f, 'href');
    if (!href) return [];
    const id = xmlAttr(f, 'id');
    return [id ? { id, href } : { href }];
  });
  const vs = child(env, 'VirtualSystem') ?? child(child(env, 'VirtualSystemCollection'), 'VirtualSystem');
  const def: OvfDefinition = { files };
  const id = xmlAttr(vs, 'id');
  if (id) def.id = id;
  const name = xmlText(vs?.['Name']);
  if (name) def.name = name;
  return def;
}

/** A VM from an .ovf file: its disks are the local files the envelope references. Undefined if it is not an envelope. */
export async function vmFromOvfFile(file: string, text: string, where: { cloudService: string; id: string; confine?: DiskConfinement }): Promise<DiscoveredVm | undefined> {
  const o = parseOvf(text);
  if (!o) return undefined;
  const dir = path.dirname(file);
  const problems: string[] = [];
  const disks = o.files.flatMap((f) => {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(f.href) && !f.href.startsWith('file://')) {
      problems.push(`file ${f.href} is not local; it is not backed up`);
      return [];
    }
    const p = resolveDefinitionPath(dir, f.href.replace(/^file:\/\//, ''));
    return [{ name: path.basename(p), path: p }];
  });
  const refs = await describeAll(disks, problems, where.confine);
  const name = o.name ?? o.id ?? path.basename(file, path.extname(file).toLowerCase());
  return { stableId: where.id, name, cloudService: where.cloudService, powerState: 'off', kind: 'ovf', definitionPath: file, disks: refs, problems };
}
