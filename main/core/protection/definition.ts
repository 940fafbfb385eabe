import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CofferError } from '../errors.js';
import type { Vault } from '../vault/vault.js';

/** A file name safe inside a restore folder: separators and dots-only names replaced. */
export function plainFileName(s: string): string {
  const cleaned = s.replace(/[/\\\0]/g, '_');
  return cleaned === '.' || cleaned === '..' || cleaned === '' ? 'disk' : cleaned;
}

/** The VM's definition file as a point stores it (domain XML, .vbox, .vmx, .ovf). */
export function readDefinition(p: string): { fileName: string; content: Buffer } {
  try {
    return { fileName: plainFileName(path.basename(p)), content: fs.readFileSync(p) };
  } catch (e) {
    throw new CofferError('DiskUnreadable', `The definition ${p} cannot be read: ${(e as Error).message}`);
  }
}

/** Gives a restored definition its new name, UUID and disk paths; returns its path (undefined: the point has none). */
export async function renameRestoredVm(vault: Vault, pointId: string, target: string, newName: string): Promise<string | undefined> {
  const manifest = await vault.readManifest(pointId);
  const defName = manifest.definition?.fileName;
  if (!defName) return undefined;
  const file = path.join(target, defName);
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, rewriteDefinition(defName, text, newName, target), { mode: 0o600 });
  return file;
}

/**
 * A restored VM must not collide with the original: new name, new UUID, and disk paths pointing
 * at the restored files (libvirt XML and VMware .vmx; other formats keep their text).
 */
export function rewriteDefinition(fileName: string, text: string, newName: string, target: string): string {
  const uuid = randomUUID();
  if (/\.xml$/i.test(fileName) && /<domain[\s>]/.test(text)) {
    return text
      .replace(/<name>[^<]*<\/name>/, `<name>${escapeXml(newName)}</name>`)
      .replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuid}</uuid>`)
      .replace(/(<source\s+file=)(['"])([^'"]*)\2/g, (_m, pre: string, q: string, file: string) => `${pre}${q}${escapeXml(path.join(target, path.basename(file)))}${q}`);
  }
  if (/\.vmx$/i.test(fileName)) {
    return text
      .replace(/^displayName\s*=.*$/m, `displayName = "${newName}"`)
      .replace(/^uuid\.bios\s*=.*$/m, `uuid.bios = "${uuid.replace(/-/g, '').replace(/(..)/g, '$1 ').trim()}"`);
  }
  return text;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

/** A restored disk file that became another file (a conversion): the definition must name the new one. */
export interface RetargetedDisk {
  from: string;
  path: string;
  format: string;
}

/**
 * Points a restored definition at its converted disks: libvirt XML gets the new file and driver
 * type (and loses the backing chain the conversion flattened); .vmx, .vbox and .ovf get the new
 * file names where they named the old ones.
 */
export function retargetDefinition(file: string, disks: readonly RetargetedDisk[]): void {
  let text = fs.readFileSync(file, 'utf8');
  const isDomain = /\.xml$/i.test(file) && /<domain[\s>]/.test(text);
  for (const d of disks) {
    if (d.from === d.path) continue;
    const oldBase = path.basename(d.from);
    const newBase = path.basename(d.path);
    if (isDomain) {
      text = text.replace(/<disk\b[\s\S]*?<\/disk>/g, (disk) => {
        const src = /<source\s+file=(['"])([^'"]*)\1/.exec(disk);
        if (!src || path.basename(src[2]!) !== escapeXml(oldBase)) return disk;
        return disk
          .replace(/(<source\s+file=)(['"])[^'"]*\2/, (_m, pre: string, q: string) => `${pre}${q}${escapeXml(d.path)}${q}`)
          .replace(/(<driver\b[^>]*\btype=)(['"])[^'"]*\2/, (_m, pre: string, q: string) => `${pre}${q}${d.format}${q}`)
          .replace(/<backingStore\b[\s\S]*<\/backingStore>|<backingStore\s*\/>/, '');
      });
    } else {
      const quoted = new RegExp(`(["'])((?:[^"'\\n]*[/\\\\])?)${escapeRegExp(oldBase)}\\1`, 'g');
      text = text.replace(quoted, (_m, q: string, dir: string) => `${q}${dir}${newBase}${q}`);
    }
  }
  fs.writeFileSync(file, text, { mode: 0o600 });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
