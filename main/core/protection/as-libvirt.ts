import * as fs from 'node:fs';
import * as path from 'node:path';
import { CofferError } from '../errors.js';
import { hardwareOf, type VmHardware } from '../sources/formats/hardware.js';
import type { ConvertedDisk } from './convert.js';
import { libvirtDomainXml, type DomainSpec } from './domain-xml.js';
import { domainTypeFor, libvirtFailure } from './libvirt-vm.js';

/*
 * A VM of another hypervisor (VirtualBox .vbox, VMware .vmx, OVF) restored as a libvirt domain:
 * the domain XML made from the point's definition, with the restored (converted) disks.
 */

/** The disks of the definition, matched to the restored files by name; disks it does not name follow in restore order. */
export function domainDisks(hw: VmHardware, disks: readonly ConvertedDisk[]): DomainSpec['disks'] {
  const byName = new Map(disks.map((d) => [path.basename(d.from), d]));
  const used = new Set<ConvertedDisk>();
  const out: DomainSpec['disks'][number][] = [];
  for (const h of hw.disks) {
    const d = byName.get(h.file);
    if (!d || used.has(d)) continue;
    used.add(d);
    out.push({ path: d.path, format: d.format, bus: h.bus });
  }
  for (const d of disks) if (!used.has(d)) out.push({ path: d.path, format: d.format, bus: 'sata' });
  return out;
}

/** The hardware of a restored definition, or an error naming why it cannot become a libvirt domain. */
export function restoredHardware(definitionFile: string): VmHardware {
  const hw = hardwareOf(definitionFile, fs.readFileSync(definitionFile, 'utf8'));
  if (!hw) throw new CofferError('InvalidArgument', `defineOn: ${path.basename(definitionFile)} is not a VirtualBox, VMware, OVF or libvirt definition.`, { field: 'defineOn' });
  return hw;
}

/**
 * Writes `<newName>.xml` into the restore folder: a libvirt domain with the definition's CPU count,
 * memory, firmware and disks, its network adapters disconnected, and the domain type `uri` offers.
 */
export async function writeLibvirtDefinition(o: { definitionFile: string; target: string; newName: string; uri: string; disks: readonly ConvertedDisk[] }): Promise<string> {
  const hw = restoredHardware(o.definitionFile);
  const type = await domainTypeFor(o.uri).catch((e: unknown) => {
    const err = libvirtFailure(e, 'reading the capabilities', o.uri);
    throw err instanceof CofferError ? new CofferError('DefineFailed', err.message, { uri: o.uri }) : err;
  });
  const xml = libvirtDomainXml({ name: o.newName, type, cpus: hw.cpus, memoryMiB: hw.memoryMiB, firmware: hw.firmware, disks: domainDisks(hw, o.disks), nics: hw.nics });
  let file = path.join(o.target, `${o.newName}.xml`);
  if (fs.existsSync(file)) file = path.join(o.target, `${o.newName}.libvirt.xml`);
  fs.writeFileSync(file, xml, { mode: 0o600 });
  return file;
}
