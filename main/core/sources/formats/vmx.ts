import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DiskConfinement } from '../confinement.js';
import type { DiscoveredVm, PowerState } from '../types.js';
import { describeAll, resolveDefinitionPath } from './disk-chain.js';

/** VMware .vmx files (and inventory.vmls, which has the same syntax). */

export interface VmxDefinition {
  displayName?: string;
  /** uuid.bios normalised to 8-4-4-4-12 lowercase hex. */
  uuidBios?: string;
  /** Hard disks, e.g. { key: 'scsi0:0', fileName: 'web.vmdk' }. */
  disks: { key: string; fileName: string }[];
  /** checkpoint.vmState: the suspend file of a suspended VM. */
  suspendFile?: string;
  entries: Map<string, string>;
}

/** VMware's uuid.bios ("56 4d 9c 2e 3b 7a 1f 0d-8a 4c 2b 1e 5f 6a 7b 8c") as a plain UUID. */
export function normaliseVmwareUuid(v: string): string | undefined {
  const hex = v.replace(/[\s-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A VMware .vmx file: `key = "value"` lines; keys are case-insensitive, |XX escapes a byte. */
export function parseVmx(text: string): VmxDefinition {
  const entries = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*([^#=\s][^=]*?)\s*=\s*"(.*)"\s*$/.exec(raw);
    if (!m) continue;
    const value = m[2]!.replace(/\|([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    entries.set(m[1]!.toLowerCase(), value);
  }
  const disks: VmxDefinition['disks'] = [];
  for (const [k, v] of entries) {
    const m = /^((?:scsi|sata|nvme|ide)\d+:\d+)\.filename$/.exec(k);
    if (!m) continue;
    const key = m[1]!;
    const deviceType = (entries.get(`${key}.devicetype`) ?? '').toLowerCase();
    if (entries.get(`${key}.present`)?.toLowerCase() === 'false') continue;
    if (deviceType.includes('cdrom') || deviceType.includes('floppy') || /\.iso$/i.test(v) || v === 'auto detect') continue;
    disks.push({ key, fileName: v });
  }
  disks.sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
  const def: VmxDefinition = { disks, entries };
  const dn = entries.get('displayname');
  if (dn) def.displayName = dn;
  const u = normaliseVmwareUuid(entries.get('uuid.bios') ?? '');
  if (u) def.uuidBios = u;
  const vmss = entries.get('checkpoint.vmstate');
  if (vmss) def.suspendFile = vmss;
  return def;
}

/** A VM from a VMware .vmx file (used by the folder scan and the vmrun provider). */
export async function vmFromVmxFile(file: string, where: { cloudService: string; fallbackId: string; confine?: DiskConfinement }, text?: string): Promise<DiscoveredVm> {
  const v = parseVmx(text ?? (await readFile(file, 'utf8')));
  const dir = path.dirname(file);
  const problems: string[] = [];
  if (!v.uuidBios) problems.push('the .vmx has no uuid.bios; it is identified by its path');
  // A running Workstation VM holds NAME.vmx.lck; a suspended one names its .vmss in checkpoint.vmState.
  const lock = await stat(`${file}.lck`).catch(() => undefined);
  const powerState: PowerState = v.suspendFile ? 'saved' : lock ? 'running' : 'off';
  const disks = await describeAll(v.disks.map((d) => ({ name: d.key, path: resolveDefinitionPath(dir, d.fileName) })), problems, where.confine);
  return {
    stableId: v.uuidBios ?? where.fallbackId,
    name: v.displayName ?? path.basename(file, path.extname(file)),
    cloudService: where.cloudService,
    powerState,
    kind: 'vmware',
    definitionPath: file,
    disks,
    problems,
  };
}
