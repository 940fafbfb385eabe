import { randomUUID } from 'node:crypto';
import type { DiskBus, VmHardware } from '../sources/formats/hardware.js';

/*
 * libvirt domain XML for a restored VM: generated from another hypervisor's definition (its CPU
 * count, memory, firmware and disks), or a restored libvirt definition adapted for a test boot
 * (own serial log, isolated network). Network adapters of a restored VM start disconnected
 * (link down) unless a network is named: a copy must not answer on the original's network.
 */

export interface DomainDisk {
  path: string;
  /** The driver type: raw, qcow2, vmdk, vdi, vhdx. */
  format: string;
  bus: DiskBus;
}

export interface DomainSpec {
  name: string;
  uuid?: string;
  /** 'kvm' with hardware virtualisation, 'qemu' (TCG) without, 'test' on libvirt's test driver. */
  type: string;
  cpus: number;
  memoryMiB: number;
  firmware: VmHardware['firmware'];
  disks: readonly DomainDisk[];
  nics: number;
  /** Connect the adapters to this libvirt network; without it they are disconnected. */
  network?: string | undefined;
  /** Write the first serial port to this file (a test boot reads its heartbeat there). */
  serialLog?: string | undefined;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

const PREFIX: Record<DiskBus, string> = { virtio: 'vd', sata: 'sd', scsi: 'sd', ide: 'hd' };

/** vda, vdb, ... vdz, vdaa: libvirt's target names. */
function targetName(prefix: string, i: number): string {
  let s = '';
  for (let n = i; n >= 0; n = Math.floor(n / 26) - 1) s = String.fromCharCode(97 + (n % 26)) + s;
  return prefix + s;
}

function interfaceXml(network: string | undefined): string {
  return network
    ? `<interface type='network'><source network='${escapeXml(network)}'/><model type='e1000'/></interface>`
    : `<interface type='user'><model type='e1000'/><link state='down'/></interface>`;
}

function serialXml(log: string): string {
  return `<serial type='file'><source path='${escapeXml(log)}'/><target port='0'/></serial><console type='file'><source path='${escapeXml(log)}'/><target type='serial' port='0'/></console>`;
}

/** A domain for a VM restored from a definition of another hypervisor. */
export function libvirtDomainXml(spec: DomainSpec): string {
  const used = new Map<string, number>();
  const disks = spec.disks.map((d, i) => {
    const prefix = PREFIX[d.bus];
    const n = used.get(prefix) ?? 0;
    used.set(prefix, n + 1);
    const boot = i === 0 ? "<boot order='1'/>" : '';
    return `    <disk type='file' device='disk'><driver name='qemu' type='${escapeXml(d.format)}'/><source file='${escapeXml(d.path)}'/><target dev='${targetName(prefix, n)}' bus='${d.bus}'/>${boot}</disk>`;
  });
  const nics = Array.from({ length: spec.nics }, () => `    ${interfaceXml(spec.network)}`);
  const firmware = spec.firmware === 'efi' ? " firmware='efi'" : '';
  return [
    `<domain type='${escapeXml(spec.type)}'>`,
    `  <name>${escapeXml(spec.name)}</name>`,
    `  <uuid>${spec.uuid ?? randomUUID()}</uuid>`,
    `  <memory unit='MiB'>${spec.memoryMiB}</memory>`,
    `  <vcpu>${spec.cpus}</vcpu>`,
    `  <os${firmware}><type arch='x86_64'>hvm</type></os>`,
    '  <features><acpi/><apic/></features>',
    "  <clock offset='utc'/>",
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>restart</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    ...disks,
    ...nics,
    ...(spec.serialLog ? [`    ${serialXml(spec.serialLog)}`] : []),
    '  </devices>',
    '</domain>',
    '',
  ].join('\n');
}

/**
 * A restored libvirt definition made ready for a test boot: its name and UUID, the domain type the
 * connection can run, every network adapter on `network` (or none without one), and its serial
 * consoles replaced by one that writes to `serialLog`.
 */
export function adaptDomainForTest(xml: string, o: { name: string; type?: string | undefined; network?: string | undefined; serialLog: string }): string {
  let out = xml
    .replace(/<name>[^<]*<\/name>/, `<name>${escapeXml(o.name)}</name>`)
    .replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${randomUUID()}</uuid>`);
  if (o.type) out = out.replace(/<domain\s+type=(['"])[^'"]*\1/, `<domain type='${escapeXml(o.type)}'`);
  // libvirt needs an OS type; a hand-written definition may have left it to the defaults.
  if (!/<os[\s>]/.test(out)) out = out.replace(/<devices[\s>]/, (m) => `<os><type arch='x86_64'>hvm</type></os>${m}`);
  const nics = (out.match(/<interface\b/g) ?? []).length;
  out = out.replace(/<(interface|serial|console)\b[^>]*\/>|<(interface|serial|console)\b[\s\S]*?<\/\2>/g, '');
  const devices = [...Array.from({ length: o.network ? Math.max(1, nics) : 0 }, () => interfaceXml(o.network)), serialXml(o.serialLog)].join('');
  return out.replace(/<\/devices>/, `${devices}</devices>`);
}
