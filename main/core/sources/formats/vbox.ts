import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DiskConfinement } from '../confinement.js';
import type { DiscoveredVm, DiskRef } from '../types.js';
import { describeAll, resolveDefinitionPath } from './disk-chain.js';
import { parseXml, xmlAttr, xmlChild as child, xmlList, type XmlNode } from './xml.js';

/** VirtualBox .vbox machine files: the machine, its media registry and the disks attached now. */

export interface VboxMedium {
  uuid: string;
  location: string;
  format?: string;
  children: VboxMedium[];
}

export interface VboxMachine {
  name: string;
  uuid: string;
  stateFile?: string;
  /** The machine's hard disk registry: roots with their differencing children. */
  media: VboxMedium[];
  /** Hard disk UUIDs attached in the current state (not in older snapshots). */
  attached: string[];
}

const stripBraces = (u: string) => u.replace(/^\{|\}$/g, '').toLowerCase();

/** A VirtualBox .vbox machine file, or undefined if it has no Machine. */
export function parseVbox(xml: string): VboxMachine | undefined {
  const doc = parseXml(xml);
  const machine = child(child(doc, 'VirtualBox'), 'Machine');
  const name = xmlAttr(machine, 'name');
  const uuid = xmlAttr(machine, 'uuid');
  if (!machine || !name || !uuid) return undefined;
  const toMedium = (n: XmlNode): VboxMedium => {
    const m: VboxMedium = {
      uuid: stripBraces(xmlAttr(n, 'uuid') ?? ''),
      location: xmlAttr(n, 'location') ?? '',
      children: xmlList(n['HardDisk']).map(toMedium),
    };
    const f = xmlAttr(n, 'format');
    if (f) m.format = f;
    return m;
  };
  const media = xmlList(child(child(machine, 'MediaRegistry'), 'HardDisks')?.['HardDisk']).map(toMedium);
  // Settings files before 1.17 keep StorageControllers beside Hardware, newer ones inside it.
  const controllers = [
    ...xmlList(child(machine, 'StorageControllers')?.['StorageController']),
    ...xmlList(child(child(machine, 'Hardware'), 'StorageControllers')?.['StorageController']),
  ];
  const attached: string[] = [];
  for (const c of controllers) {
    for (const dev of xmlList(c['AttachedDevice'])) {
      if (xmlAttr(dev, 'type') !== 'HardDisk') continue;
      const img = xmlAttr(child(dev, 'Image'), 'uuid');
      if (img) attached.push(stripBraces(img));
    }
  }
  const stateFile = xmlAttr(machine, 'stateFile');
  const vm: VboxMachine = { name, uuid: stripBraces(uuid), media, attached };
  if (stateFile) vm.stateFile = stateFile;
  return vm;
}

/** The disks a .vbox names: attached media are the VM's disks, their parents and other snapshot media its chain. */
export function vboxDiskList(m: VboxMachine, dir: string): { name: string; path: string; role: DiskRef['role'] }[] {
  const attached = new Set(m.attached);
  const disks: { name: string; path: string; role: DiskRef['role'] }[] = [];
  const addMedium = (md: VboxMedium, isRoot: boolean) => {
    const role: DiskRef['role'] = attached.size > 0 ? (attached.has(md.uuid) ? 'disk' : 'backing') : isRoot ? 'disk' : 'backing';
    disks.push({ name: path.basename(md.location.replace(/\\/g, '/')), path: resolveDefinitionPath(dir, md.location), role });
    for (const c of md.children) addMedium(c, false);
  };
  for (const md of m.media) addMedium(md, true);
  // The current state's disks first, then the chain they rest on.
  return disks.sort((a, b) => (a.role === b.role ? 0 : a.role === 'disk' ? -1 : 1));
}

/** A VM from a VirtualBox .vbox file (used by the folder scan and the VBoxManage provider). */
export async function vmFromVboxFile(file: string, where: { cloudService: string; confine?: DiskConfinement }, text?: string): Promise<DiscoveredVm | undefined> {
  const m = parseVbox(text ?? (await readFile(file, 'utf8')));
  if (!m) return undefined;
  const problems: string[] = [];
  const disks = await describeAll(vboxDiskList(m, path.dirname(file)), problems, where.confine);
  return {
    stableId: m.uuid,
    name: m.name,
    cloudService: where.cloudService,
    powerState: m.stateFile ? 'saved' : 'off',
    kind: 'virtualbox',
    definitionPath: file,
    disks,
    problems,
  };
}
