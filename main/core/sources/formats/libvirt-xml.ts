import path from 'node:path';
import type { DiskConfinement } from '../confinement.js';
import type { DiscoveredVm, DiskFormat } from '../types.js';
import { describeAll, MAX_CHAIN, resolveDefinitionPath } from './disk-chain.js';
import { formatFromDriverType } from './disk-image.js';
import { parseXml, xmlAttr, xmlChild as child, xmlList, xmlText } from './xml.js';

/** libvirt domain XML: what `virsh dumpxml` prints and what /etc/libvirt/qemu holds. */

export interface LibvirtDiskDefinition {
  target: string;
  device: string;
  sourceType: string;
  /** file= or dev= of the source; undefined for network/volume sources and empty drives. */
  path?: string;
  format?: DiskFormat;
  readonly: boolean;
  /** Backing chain as libvirt reports it for running domains (<backingStore>), top first. */
  backingStore: { path: string; format?: DiskFormat }[];
}

export interface LibvirtDomainDefinition {
  type: string;
  name: string;
  uuid?: string;
  disks: LibvirtDiskDefinition[];
  /** 'absent': no guest agent channel; 'configured': a channel without a reported state. */
  guestAgent: 'absent' | 'configured' | 'connected' | 'disconnected';
}

/** A libvirt domain XML (dumpxml or a file from /etc/libvirt/qemu), or undefined if the root is not <domain type=...>. */
export function parseLibvirtDomainXml(xml: string): LibvirtDomainDefinition | undefined {
  const doc = parseXml(xml);
  const dom = child(doc, 'domain');
  const type = xmlAttr(dom, 'type');
  if (!dom || !type) return undefined;
  const name = xmlText(dom['name']);
  if (!name) return undefined;
  const devices = child(dom, 'devices');
  const disks: LibvirtDiskDefinition[] = xmlList(devices?.['disk']).map((d) => {
    const source = child(d, 'source');
    const backingStore: LibvirtDiskDefinition['backingStore'] = [];
    for (let b = child(d, 'backingStore'); b && backingStore.length < MAX_CHAIN; b = child(b, 'backingStore')) {
      const bp = xmlAttr(child(b, 'source'), 'file') ?? xmlAttr(child(b, 'source'), 'dev');
      if (!bp) break;
      const f = formatFromDriverType(xmlAttr(child(b, 'format'), 'type'));
      backingStore.push(f ? { path: bp, format: f } : { path: bp });
    }
    const def: LibvirtDiskDefinition = {
      target: xmlAttr(child(d, 'target'), 'dev') ?? '',
      device: xmlAttr(d, 'device') ?? 'disk',
      sourceType: xmlAttr(d, 'type') ?? 'file',
      readonly: 'readonly' in d,
      backingStore,
    };
    const p = xmlAttr(source, 'file') ?? xmlAttr(source, 'dev');
    if (p) def.path = p;
    const f = formatFromDriverType(xmlAttr(child(d, 'driver'), 'type'));
    if (f) def.format = f;
    return def;
  });
  let guestAgent: LibvirtDomainDefinition['guestAgent'] = 'absent';
  for (const ch of xmlList(devices?.['channel'])) {
    const target = child(ch, 'target');
    if (xmlAttr(target, 'name') !== 'org.qemu.guest_agent.0') continue;
    const state = xmlAttr(target, 'state');
    guestAgent = state === 'connected' ? 'connected' : state === 'disconnected' ? 'disconnected' : 'configured';
  }
  const uuid = xmlText(dom['uuid']);
  return uuid ? { type, name, uuid: uuid.toLowerCase(), disks, guestAgent } : { type, name, disks, guestAgent };
}

/**
 * A VM from a domain XML file found in a folder (not from a running libvirt): disks are read from
 * the files the XML names; `fallbackId` identifies a domain without <uuid>. Undefined if the XML is not a domain.
 */
export async function vmFromLibvirtXmlFile(file: string, text: string, where: { cloudService: string; fallbackId: string; confine?: DiskConfinement }): Promise<DiscoveredVm | undefined> {
  const def = parseLibvirtDomainXml(text);
  if (!def) return undefined;
  const dir = path.dirname(file);
  const problems: string[] = [];
  const disks = def.disks.filter((d) => d.device === 'disk').flatMap((d) => {
    if (!d.path) {
      problems.push(`disk ${d.target} has a ${d.sourceType} source that a folder scan cannot read`);
      return [];
    }
    return [{ name: d.target, path: resolveDefinitionPath(dir, d.path), ...(d.format ? { format: d.format } : {}) }];
  });
  if (!def.uuid) problems.push('the domain XML has no <uuid>; it is identified by its path');
  const refs = await describeAll(disks, problems, where.confine);
  return { stableId: def.uuid ?? where.fallbackId, name: def.name, cloudService: where.cloudService, powerState: 'off', kind: 'libvirt', definitionPath: file, disks: refs, problems };
}
