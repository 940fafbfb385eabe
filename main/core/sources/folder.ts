import { constants as fsConstants } from 'node:fs';
import { open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { runTool, ToolMissingError } from './exec.js';
import type { DiscoveredVm, DiskFormat, DiskRef, PowerState, SourceStatus, VmProvider } from './types.js';

/*
 * The folder scanner: finds VMs by their definition files (libvirt domain XML, VirtualBox .vbox,
 * VMware .vmx, OVF) and folders that hold only disk images. It reads files and parses them; it
 * never executes anything a definition names.
 */

// ---------------------------------------------------------------------------------------------
// XML helpers

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // OVF and .vbox use namespaces (ovf:href, vbox:...); the prefix varies between writers.
  removeNSPrefix: true,
  // UUIDs such as "1234" and names such as "007" must stay strings.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
});

type XmlNode = Record<string, unknown>;

export function parseXml(text: string): XmlNode {
  return xmlParser.parse(text) as XmlNode;
}

/** fast-xml-parser gives one child as an object and several as an array. */
export function xmlList(v: unknown): XmlNode[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is XmlNode => typeof x === 'object' && x !== null);
}

export function xmlAttr(node: unknown, name: string): string | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const v = (node as XmlNode)[`@_${name}`];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

export function xmlText(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (typeof node === 'number') return String(node);
  if (typeof node === 'object' && node !== null) {
    const t = (node as XmlNode)['#text'];
    if (typeof t === 'string' || typeof t === 'number') return String(t);
  }
  return undefined;
}

function child(node: unknown, name: string): XmlNode | undefined {
  return xmlList((node as XmlNode | undefined)?.[name])[0];
}

// ---------------------------------------------------------------------------------------------
// Disk formats and chains

export const IMAGE_EXTENSIONS = ['.img', '.raw', '.qcow2', '.qcow', '.vdi', '.vmdk', '.vhd', '.vhdx'];

export function isImageFileName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

/** A guess from the file name, used only when the file itself cannot be read. */
export function formatFromExtension(p: string): DiskFormat {
  switch (path.extname(p).toLowerCase()) {
    case '.qcow2':
    case '.qcow':
      return 'qcow2';
    case '.vdi':
      return 'vdi';
    case '.vmdk':
      return 'vmdk';
    case '.vhd':
      return 'vhd';
    case '.vhdx':
    case '.avhdx':
      return 'vhdx';
    case '.img':
    case '.raw':
      return 'raw';
    default:
      return 'unknown';
  }
}

/** libvirt's driver type names (vpc is qemu's name for VHD). */
export function formatFromDriverType(t: string | undefined): DiskFormat | undefined {
  switch (t) {
    case 'raw':
    case 'qcow2':
    case 'vdi':
    case 'vmdk':
    case 'vhdx':
      return t;
    case 'vpc':
      return 'vhd';
    case undefined:
      return undefined;
    default:
      return 'unknown';
  }
}

/** The format from the bytes at the start (and, for VHD, the end) of an image. */
export function formatFromMagic(head: Buffer, tail?: Buffer): DiskFormat {
  const ascii = (b: Buffer, start: number, len: number) => b.subarray(start, start + len).toString('latin1');
  if (head.length >= 4 && head.readUInt32BE(0) === 0x514649fb) return 'qcow2';
  if (ascii(head, 0, 4) === 'KDMV' || ascii(head, 0, 4) === 'COWD') return 'vmdk';
  if (ascii(head, 0, 8) === 'vhdxfile') return 'vhdx';
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) return 'vdi';
  if (/^\s*# Disk DescriptorFile/.test(ascii(head, 0, 64))) return 'vmdk';
  // Fixed VHDs carry only the footer; dynamic ones also copy it to the first sector.
  if (ascii(head, 0, 8) === 'conectix') return 'vhd';
  if (tail && tail.includes('conectix', 0, 'latin1')) return 'vhd';
  return 'raw';
}

async function readAt(p: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(p, fsConstants.O_RDONLY);
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function detectDiskFormat(p: string): Promise<DiskFormat> {
  const st = await stat(p);
  if (!st.isFile()) return st.isBlockDevice() ? 'raw' : 'unknown';
  const head = await readAt(p, 0, 512);
  const tail = st.size >= 512 ? await readAt(p, st.size - 512, 512) : undefined;
  return formatFromMagic(head, tail);
}

/** The backing file name stored in a qcow2 header, or undefined when the image has none. */
export function qcow2BackingFromHeader(header: Buffer): string | undefined {
  if (header.length < 20 || header.readUInt32BE(0) !== 0x514649fb) throw new Error('not a qcow2 image');
  const offset = header.readBigUInt64BE(8);
  const size = header.readUInt32BE(16);
  if (offset === 0n || size === 0) return undefined;
  // The name sits right after the header; qemu caps it at 1023 bytes.
  if (size > 1023 || offset > 65536n) throw new Error(`implausible qcow2 backing file field (offset ${offset}, size ${size})`);
  const start = Number(offset);
  if (header.length < start + size) throw new Error('qcow2 header shorter than its backing file field');
  return header.subarray(start, start + size).toString('utf8');
}

async function readQcow2Backing(p: string): Promise<string | undefined> {
  const head = await readAt(p, 0, 65536 + 1024);
  return qcow2BackingFromHeader(head);
}

/** Fallback for headers we do not understand (json: backing specs): ask qemu-img, never a shell. */
async function qemuImgBacking(p: string): Promise<string | undefined> {
  const r = await runTool('qemu-img', ['info', '--output=json', '-U', p], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`qemu-img info failed: ${r.stderr.trim()}`);
  const info = JSON.parse(r.stdout) as { 'full-backing-filename'?: string; 'backing-filename'?: string };
  return info['full-backing-filename'] ?? info['backing-filename'];
}

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
async function readVmdkDescriptor(p: string): Promise<VmdkDescriptor | undefined> {
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

/** Windows paths in definitions written on Windows: kept as they are, they cannot be resolved here. */
function isForeignAbsolute(p: string): boolean {
  return path.sep === '/' && (/^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\'));
}

/** A path from a definition, resolved against the definition's folder. */
export function resolveDefinitionPath(baseDir: string, p: string): string {
  if (isForeignAbsolute(p)) return p;
  return path.resolve(baseDir, p);
}

interface DiskWalk {
  /** Real paths already listed for this VM: a backing loop or a disk named twice stops here. */
  seen: Set<string>;
  problems: string[];
}

const MAX_CHAIN = 64;

/**
 * One disk as it is on disk: the file, its VMDK extents and its backing chain (qcow2 backing files,
 * VMDK parents), each as a DiskRef. Missing files are listed with exists:false and a problem.
 */
export async function describeDisk(
  name: string,
  p: string,
  role: DiskRef['role'],
  walk: DiskWalk = { seen: new Set(), problems: [] },
  formatHint?: DiskFormat,
  depth = 0,
): Promise<DiskRef[]> {
  let st;
  try {
    st = await stat(p);
  } catch {
    walk.problems.push(role === 'backing' ? `backing file ${p} is missing` : `disk ${name} is missing: ${p}`);
    return [{ name, path: p, format: formatHint ?? formatFromExtension(p), exists: false, role }];
  }
  const real = await realpath(p).catch(() => p);
  if (walk.seen.has(real)) {
    if (role === 'backing') walk.problems.push(`backing chain of ${name} loops back to ${p}`);
    return [];
  }
  walk.seen.add(real);
  if (!st.isFile() && !st.isBlockDevice()) {
    walk.problems.push(`disk ${name} is not a file: ${p}`);
    return [{ name, path: p, format: 'unknown', exists: false, role }];
  }
  const format = st.isFile() ? await detectDiskFormat(p) : 'raw';
  const refs: DiskRef[] = [{ name, path: p, format, sizeBytes: st.isFile() ? st.size : undefined, exists: true, role }];
  if (depth >= MAX_CHAIN) {
    walk.problems.push(`backing chain of ${name} is longer than ${MAX_CHAIN}; stopped`);
    return refs;
  }
  try {
    if (format === 'qcow2') {
      let backing = await readQcow2Backing(p);
      if (backing?.startsWith('json:')) backing = await qemuImgBacking(p);
      if (backing) {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(backing)) {
          walk.problems.push(`${name} has a backing file on the network (${backing}); it is not backed up`);
        } else {
          const bp = resolveDefinitionPath(path.dirname(p), backing);
          refs.push(...(await describeDisk(path.basename(bp), bp, 'backing', walk, undefined, depth + 1)));
        }
      }
    } else if (format === 'vmdk') {
      const desc = await readVmdkDescriptor(p);
      for (const e of desc?.extents ?? []) {
        if (!e.file) continue;
        const ep = resolveDefinitionPath(path.dirname(p), e.file);
        if (ep === p) continue; // a monolithic sparse file names itself
        const est = await stat(ep).catch(() => undefined);
        if (!est) walk.problems.push(`extent ${e.file} of ${name} is missing: ${ep}`);
        walk.seen.add(await realpath(ep).catch(() => ep));
        refs.push({
          name: path.basename(ep),
          path: ep,
          format: e.type === 'FLAT' || e.type === 'VMFS' ? 'raw' : 'vmdk',
          sizeBytes: est?.size,
          exists: !!est,
          role,
          extentOf: p,
        });
      }
      if (desc?.parentFileNameHint) {
        const pp = resolveDefinitionPath(path.dirname(p), desc.parentFileNameHint);
        refs.push(...(await describeDisk(path.basename(pp), pp, 'backing', walk, 'vmdk', depth + 1)));
      }
    }
  } catch (e) {
    if (e instanceof ToolMissingError) walk.problems.push(`cannot read the backing chain of ${name}: qemu-img is not installed`);
    else walk.problems.push(`cannot read the backing chain of ${name}: ${(e as Error).message}`);
  }
  return refs.map((r) => (r.sizeBytes === undefined ? dropUndefinedSize(r) : r));
}

function dropUndefinedSize(r: DiskRef): DiskRef {
  const { sizeBytes: _s, ...rest } = r;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// Definition parsers (pure: text in, plain data out)

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

// ---------------------------------------------------------------------------------------------
// The scanner

export interface ScanOptions {
  /** How deep below the root to look (default 8). */
  maxDepth?: number;
  signal?: AbortSignal;
}

interface FolderEntry {
  dir: string;
  files: string[];
}

const DEFINITION_MAX_BYTES = 4 * 1024 * 1024;

async function walkTree(root: string, opts: ScanOptions): Promise<FolderEntry[]> {
  const maxDepth = opts.maxDepth ?? 8;
  const out: FolderEntry[] = [];
  const visited = new Set<string>();
  const visit = async (dir: string, depth: number): Promise<void> => {
    opts.signal?.throwIfAborted();
    // Symlinked folders are followed once: the real path set breaks loops.
    const real = await realpath(dir).catch(() => undefined);
    if (!real || visited.has(real)) return;
    visited.add(real);
    const names = await readdir(dir).catch(() => [] as string[]);
    names.sort();
    const entry: FolderEntry = { dir, files: [] };
    const subdirs: string[] = [];
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const full = path.join(dir, n);
      const st = await stat(full).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) {
        // VMware's lock folders (web.vmx.lck) are runtime state, not VMs.
        if (!n.endsWith('.lck')) subdirs.push(full);
      } else if (st.isFile()) entry.files.push(full);
    }
    out.push(entry);
    if (depth < maxDepth) for (const s of subdirs) await visit(s, depth + 1);
  };
  await visit(root, 0);
  return out;
}

const toPosix = (p: string) => p.split(path.sep).join('/');

async function readSmallText(p: string): Promise<string | undefined> {
  const st = await stat(p).catch(() => undefined);
  if (!st || st.size > DEFINITION_MAX_BYTES) return undefined;
  return readFile(p, 'utf8').catch(() => undefined);
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

async function describeAll(disks: { name: string; path: string; format?: DiskFormat; role?: DiskRef['role'] }[], problems: string[]): Promise<DiskRef[]> {
  const walk: DiskWalk = { seen: new Set(), problems };
  const refs: DiskRef[] = [];
  for (const d of disks) refs.push(...(await describeDisk(d.name, d.path, d.role ?? 'disk', walk, d.format)));
  return refs;
}

/** A VM from a VMware .vmx file (used by the folder scan and the vmrun provider). */
export async function vmFromVmxFile(file: string, where: { cloudService: string; fallbackId: string }, text?: string): Promise<DiscoveredVm> {
  const v = parseVmx(text ?? (await readFile(file, 'utf8')));
  const dir = path.dirname(file);
  const problems: string[] = [];
  if (!v.uuidBios) problems.push('the .vmx has no uuid.bios; it is identified by its path');
  // A running Workstation VM holds NAME.vmx.lck; a suspended one names its .vmss in checkpoint.vmState.
  const lock = await stat(`${file}.lck`).catch(() => undefined);
  const powerState: PowerState = v.suspendFile ? 'saved' : lock ? 'running' : 'off';
  const disks = await describeAll(v.disks.map((d) => ({ name: d.key, path: resolveDefinitionPath(dir, d.fileName) })), problems);
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

/** A VM from a VirtualBox .vbox file (used by the folder scan and the VBoxManage provider). */
export async function vmFromVboxFile(file: string, where: { cloudService: string }, text?: string): Promise<DiscoveredVm | undefined> {
  const m = parseVbox(text ?? (await readFile(file, 'utf8')));
  if (!m) return undefined;
  const problems: string[] = [];
  const disks = await describeAll(vboxDiskList(m, path.dirname(file)), problems);
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

/**
 * Finds every VM under `root`. Results are sorted by definition path so repeated scans agree; a
 * UUID seen twice (a copied VM folder) keeps the first and identifies the copy by its path.
 */
export async function scanFolder(root: string, opts: ScanOptions = {}): Promise<DiscoveredVm[]> {
  root = path.resolve(root);
  const rootName = path.basename(root);
  const cloudServiceOf = (dir: string) => {
    const rel = toPosix(path.relative(root, dir));
    return rel === '' || rel.startsWith('..') ? rootName : rel;
  };
  const relPath = (p: string) => toPosix(path.relative(root, p)) || '.';
  const folders = await walkTree(root, opts);
  const vms: DiscoveredVm[] = [];
  const claimed = new Set<string>();
  const definitionDirs = new Set<string>();
  const add = async (vm: DiscoveredVm) => {
    for (const r of vm.disks) claimed.add(await realpath(r.path).catch(() => r.path));
    vms.push(vm);
  };

  for (const folder of folders) {
    for (const file of folder.files) {
      opts.signal?.throwIfAborted();
      const ext = path.extname(file).toLowerCase();
      if (!['.xml', '.vbox', '.vmx', '.ovf'].includes(ext)) continue;
      const text = await readSmallText(file);
      if (text === undefined) continue;
      const dir = path.dirname(file);
      const cloudService = cloudServiceOf(dir);
      try {
        if (ext === '.xml') {
          if (!/<domain[\s>]/.test(text)) continue;
          const def = parseLibvirtDomainXml(text);
          if (!def) continue;
          definitionDirs.add(dir);
          const problems: string[] = [];
          const disks = def.disks.filter((d) => d.device === 'disk').flatMap((d) => {
            if (!d.path) {
              problems.push(`disk ${d.target} has a ${d.sourceType} source that a folder scan cannot read`);
              return [];
            }
            return [{ name: d.target, path: resolveDefinitionPath(dir, d.path), ...(d.format ? { format: d.format } : {}) }];
          });
          if (!def.uuid) problems.push('the domain XML has no <uuid>; it is identified by its path');
          const refs = await describeAll(disks, problems);
          await add({ stableId: def.uuid ?? relPath(file), name: def.name, cloudService, powerState: 'off', kind: 'libvirt', definitionPath: file, disks: refs, problems });
        } else if (ext === '.vbox') {
          const vm = await vmFromVboxFile(file, { cloudService }, text);
          if (!vm) continue;
          definitionDirs.add(dir);
          await add(vm);
        } else if (ext === '.vmx') {
          definitionDirs.add(dir);
          await add(await vmFromVmxFile(file, { cloudService, fallbackId: relPath(file) }, text));
        } else if (ext === '.ovf') {
          const o = parseOvf(text);
          if (!o) continue;
          definitionDirs.add(dir);
          const problems: string[] = [];
          const disks = o.files.flatMap((f) => {
            if (/^[a-z][a-z0-9+.-]*:\/\//i.test(f.href) && !f.href.startsWith('file://')) {
              problems.push(`file ${f.href} is not local; it is not backed up`);
              return [];
            }
            const p = resolveDefinitionPath(dir, f.href.replace(/^file:\/\//, ''));
            return [{ name: path.basename(p), path: p }];
          });
          const refs = await describeAll(disks, problems);
          const name = o.name ?? o.id ?? path.basename(file, ext);
          await add({ stableId: relPath(file), name, cloudService, powerState: 'off', kind: 'ovf', definitionPath: file, disks: refs, problems });
        }
      } catch (e) {
        // One broken definition must not hide the other VMs of the source.
        vms.push({
          stableId: relPath(file),
          name: path.basename(file, ext),
          cloudService,
          powerState: 'unknown',
          kind: ext === '.vbox' ? 'virtualbox' : ext === '.vmx' ? 'vmware' : ext === '.ovf' ? 'ovf' : 'libvirt',
          definitionPath: file,
          disks: [],
          problems: [`cannot read ${relPath(file)}: ${(e as Error).message}`],
        });
      }
    }
  }

  // Bare image folders: a folder without definitions whose images no definition or chain claims.
  for (const folder of folders) {
    if (definitionDirs.has(folder.dir)) continue;
    const images = folder.files.filter((f) => isImageFileName(f));
    if (images.length === 0) continue;
    const reals = await Promise.all(images.map((f) => realpath(f).catch(() => f)));
    if (reals.some((r) => claimed.has(r))) continue;
    // An image that is another image's backing file or extent is part of that disk, not a disk of its own.
    const parts = new Set<string>();
    for (const img of images) {
      for (const r of (await describeDisk(path.basename(img), img, 'disk')).slice(1)) parts.add(await realpath(r.path).catch(() => r.path));
    }
    const tops = images.filter((_, i) => !parts.has(reals[i]!));
    const problems: string[] = [];
    const refs = await describeAll((tops.length > 0 ? tops : images).map((f) => ({ name: path.basename(f), path: f })), problems);
    await add({
      stableId: relPath(folder.dir),
      name: path.basename(folder.dir),
      // The folder is the VM; it sits in its parent folder.
      cloudService: folder.dir === root ? rootName : cloudServiceOf(path.dirname(folder.dir)),
      powerState: 'off',
      kind: 'images',
      disks: refs,
      problems,
    });
  }

  vms.sort((a, b) => (a.definitionPath ?? path.join(root, a.stableId)).localeCompare(b.definitionPath ?? path.join(root, b.stableId)));
  const byId = new Map<string, DiscoveredVm>();
  for (const vm of vms) {
    const first = byId.get(vm.stableId);
    if (first) {
      vm.problems.push(`same id ${vm.stableId} as ${relPath(first.definitionPath ?? first.stableId)} (a copied VM?); identified by its path here`);
      vm.stableId = `${vm.stableId}@${relPath(vm.definitionPath ?? vm.stableId)}`;
    }
    byId.set(vm.stableId, vm);
  }
  return vms;
}

/** A folder source: reachable when the folder can be listed. */
export class FolderProvider implements VmProvider {
  constructor(
    readonly root: string,
    private readonly opts: Omit<ScanOptions, 'signal'> = {},
  ) {}

  async status(): Promise<SourceStatus> {
    try {
      const st = await stat(this.root);
      if (!st.isDirectory()) return { state: 'unreachable', message: `${this.root} is not a folder` };
      await readdir(this.root);
      return { state: 'reachable', message: `folder ${this.root}` };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : (e as Error).message;
      return { state: 'unreachable', message: `folder ${this.root} ${why}` };
    }
  }

  list(signal?: AbortSignal): Promise<DiscoveredVm[]> {
    return scanFolder(this.root, { ...this.opts, ...(signal ? { signal } : {}) });
  }
}
