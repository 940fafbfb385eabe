import path from 'node:path';
import { parseOvf } from './ovf.js';
import { parseVbox, type VboxMedium } from './vbox.js';
import { parseVmx } from './vmx.js';
import { parseXml, xmlAttr, xmlChild as child, xmlList, xmlText, type XmlNode } from './xml.js';

/*
 * The virtual hardware a definition of another hypervisor describes (VirtualBox .vbox, VMware
 * .vmx, OVF): what a libvirt domain made from it needs. Disks are named by file name, as a
 * recovery point restores them (every file directly in the restore folder).
 */

export type DiskBus = 'virtio' | 'sata' | 'ide' | 'scsi';

export interface VmHardware {
  cpus: number;
  memoryMiB: number;
  firmware: 'bios' | 'efi';
  /** The VM's disks in boot order, by file name. */
  disks: { file: string; bus: DiskBus }[];
  /** Network adapters the VM had (a restored VM gets them disconnected). */
  nics: number;
}

const DEFAULT_CPUS = 1;
const DEFAULT_MEMORY_MIB = 1024;

const posInt = (v: string | undefined): number | undefined => {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
};
const fileOf = (p: string): string => path.basename(p.replace(/\\/g, '/'));

/** The hardware of a .vbox, .vmx or .ovf definition; undefined for other files (or a libvirt XML, which is a domain already). */
export function hardwareOf(fileName: string, text: string): VmHardware | undefined {
  const ext = path.extname(fileName).toLowerCase();
  if (ext === '.vbox') return vboxHardware(text);
  if (ext === '.vmx') return vmxHardware(text);
  if (ext === '.ovf') return ovfHardware(text);
  return undefined;
}

function vboxBus(controllerType: string | undefined): DiskBus {
  const t = (controllerType ?? '').toLowerCase();
  if (t === 'ahci') return 'sata';
  if (t.startsWith('piix') || t === 'ich6') return 'ide';
  if (t === 'virtioscsi' || t.startsWith('lsilogic') || t === 'buslogic') return 'scsi';
  if (t === 'nvme') return 'sata';
  return 'sata';
}

export function vboxHardware(text: string): VmHardware | undefined {
  const m = parseVbox(text);
  if (!m) return undefined;
  const machine = child(child(parseXml(text), 'VirtualBox'), 'Machine');
  const hw = child(machine, 'Hardware');
  const files = new Map<string, string>();
  const index = (md: VboxMedium) => {
    files.set(md.uuid, fileOf(md.location));
    md.children.forEach(index);
  };
  m.media.forEach(index);
  const controllers = [...xmlList(child(machine, 'StorageControllers')?.['StorageController']), ...xmlList(child(hw, 'StorageControllers')?.['StorageController'])];
  const disks: VmHardware['disks'] = [];
  for (const c of controllers) {
    const bus = vboxBus(xmlAttr(c, 'type'));
    const devs = xmlList(c['AttachedDevice']).filter((d) => xmlAttr(d, 'type') === 'HardDisk');
    devs.sort((a, b) => Number(xmlAttr(a, 'port') ?? 0) - Number(xmlAttr(b, 'port') ?? 0) || Number(xmlAttr(a, 'device') ?? 0) - Number(xmlAttr(b, 'device') ?? 0));
    for (const d of devs) {
      const file = files.get((xmlAttr(child(d, 'Image'), 'uuid') ?? '').replace(/^\{|\}$/g, '').toLowerCase());
      if (file) disks.push({ file, bus });
    }
  }
  const nics = xmlList(child(hw, 'Network')?.['Adapter']).filter((a) => xmlAttr(a, 'enabled') === 'true').length;
  const efi = /^efi/i.test(xmlAttr(child(hw, 'Firmware'), 'type') ?? '');
  return {
    cpus: posInt(xmlAttr(child(hw, 'CPU'), 'count')) ?? DEFAULT_CPUS,
    memoryMiB: posInt(xmlAttr(child(hw, 'Memory'), 'RAMSize')) ?? DEFAULT_MEMORY_MIB,
    firmware: efi ? 'efi' : 'bios',
    disks,
    nics,
  };
}

export function vmxHardware(text: string): VmHardware {
  const v = parseVmx(text);
  const bus = (key: string): DiskBus => {
    if (key.startsWith('ide')) return 'ide';
    if (key.startsWith('scsi')) return 'scsi';
    return 'sata';
  };
  let nics = 0;
  for (const [k, val] of v.entries) if (/^ethernet\d+\.present$/.test(k) && val.toLowerCase() === 'true') nics++;
  return {
    cpus: posInt(v.entries.get('numvcpus')) ?? DEFAULT_CPUS,
    memoryMiB: posInt(v.entries.get('memsize')) ?? DEFAULT_MEMORY_MIB,
    firmware: v.entries.get('firmware')?.toLowerCase() === 'efi' ? 'efi' : 'bios',
    disks: v.disks.map((d) => ({ file: fileOf(d.fileName), bus: bus(d.key) })),
    nics,
  };
}

/** OVF's AllocationUnits ("byte * 2^20", "MegaBytes", "GigaBytes") as a factor to MiB. */
function mibFactor(units: string | undefined): number {
  const u = (units ?? 'byte * 2^20').replace(/\s+/g, '').toLowerCase();
  const pow = /^byte\*2\^(\d+)$/.exec(u);
  if (pow) return 2 ** (Number(pow[1]) - 20);
  if (u.startsWith('giga')) return 1024;
  if (u.startsWith('kilo')) return 1 / 1024;
  return 1;
}

export function ovfHardware(text: string): VmHardware | undefined {
  const o = parseOvf(text);
  if (!o) return undefined;
  const env = child(parseXml(text), 'Envelope');
  const vs = child(env, 'VirtualSystem') ?? child(child(env, 'VirtualSystemCollection'), 'VirtualSystem');
  const hw = child(vs, 'VirtualHardwareSection');
  const items = xmlList(hw?.['Item']);
  const val = (it: XmlNode, k: string) => xmlText(it[k])?.trim();
  const byType = (t: number) => items.filter((it) => Number(val(it, 'ResourceType')) === t);
  const cpu = byType(3)[0];
  const mem = byType(4)[0];
  const fileById = new Map(o.files.flatMap((f) => (f.id ? [[f.id, fileOf(f.href)] as const] : [])));
  const diskFile = new Map<string, string>();
  for (const d of xmlList(child(env, 'DiskSection')?.['Disk'])) {
    const id = xmlAttr(d, 'diskId');
    const ref = xmlAttr(d, 'fileRef');
    const file = ref ? fileById.get(ref) : undefined;
    if (id && file) diskFile.set(id, file);
  }
  const controllerBus = new Map<string, DiskBus>();
  for (const it of items) {
    const t = Number(val(it, 'ResourceType'));
    const id = val(it, 'InstanceID');
    if (!id) continue;
    if (t === 5) controllerBus.set(id, 'ide');
    else if (t === 6) controllerBus.set(id, 'scsi');
    else if (t === 20) controllerBus.set(id, 'sata');
  }
  const disks = byType(17).flatMap((it) => {
    const res = val(it, 'HostResource') ?? '';
    const file = diskFile.get(res.replace(/^ovf:\/(disk|file)\//, '')) ?? fileById.get(res.replace(/^ovf:\/file\//, ''));
    return file ? [{ file, bus: controllerBus.get(val(it, 'Parent') ?? '') ?? 'sata' }] : [];
  });
  const firmwareConfig = xmlList(hw?.['Config']).find((c) => xmlAttr(c, 'key') === 'firmware');
  return {
    cpus: posInt(cpu ? val(cpu, 'VirtualQuantity') : undefined) ?? DEFAULT_CPUS,
    memoryMiB: Math.max(1, Math.round((posInt(mem ? val(mem, 'VirtualQuantity') : undefined) ?? DEFAULT_MEMORY_MIB) * (mem ? mibFactor(val(mem, 'AllocationUnits')) : 1))),
    firmware: xmlAttr(firmwareConfig, 'value')?.toLowerCase() === 'efi' ? 'efi' : 'bios',
    disks,
    nics: byType(10).length,
  };
}
