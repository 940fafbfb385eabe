import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { folderConfinement } from './confinement.js';
import { describeAll, describeDisk } from './formats/disk-chain.js';
import { isImageFileName } from './formats/disk-image.js';
import { vmFromLibvirtXmlFile } from './formats/libvirt-xml.js';
import { vmFromOvfFile } from './formats/ovf.js';
import { vmFromVboxFile } from './formats/vbox.js';
import { vmFromVmxFile } from './formats/vmx.js';
import type { DiscoveredVm, SourceStatus, VmProvider } from './types.js';

/*
 * The folder scanner: finds VMs by their definition files (libvirt domain XML, VirtualBox .vbox,
 * VMware .vmx, OVF; parsed in ./formats) and folders that hold only disk images. It reads files and
 * parses them; it never executes anything a definition names.
 */

export interface ScanOptions {
  /** How deep below the root to look (default 8). */
  maxDepth?: number;
  signal?: AbortSignal;
  /** Folders besides the root that disks may live in (the admin's choice for this source). */
  allowedRoots?: readonly string[];
  /** Whether disks may be block devices (/dev/...). Default: no. */
  allowBlockDevices?: boolean;
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

/** Where a VM of a folder source lives, as the cloud-service rule needs it. */
export interface FolderVmPlace {
  name: string;
  /** The folder its definition sits in; for a folder of bare images, that folder. */
  home: string;
  /** Its definition file, when it has one. */
  definitionPath?: string | undefined;
  /** A folder of bare images: the folder is the VM (and is named after it). */
  isFolder: boolean;
  /** Absolute paths of its definition and disk files. */
  files: readonly string[];
}

const isInside = (p: string, dir: string): boolean => {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};

/**
 * The cloud-service rule of a folder source (README, "Supported sources"), for every VM of one
 * scan: the folder a VM sits in names its cloud service, relative to the source's folder. A VM's
 * own folder is the folder above that: one named after the VM (or its definition file) that holds
 * only this VM's files (its definition and disks, nothing of another VM, also in subfolders), the
 * one-folder-per-VM layout of VirtualBox, VMware and many libvirt trees. So `lab/web01/web01.vbox`
 * is `lab/web01`, not `lab/web01/web01`, while `shop/web01.xml` alone in `shop` stays `shop/web01`.
 * A folder of bare images is a VM of its own and sits in its parent.
 * Two rules keep a label telling VMs apart: a VM that the folder above would put beside a VM of
 * the same name keeps its own folder, and nothing above the source's folder is used (a VM whose
 * own folder is the source's folder takes that folder's name).
 * The scan and catalog migration 8 both use this function.
 */
export function folderCloudServices(root: string, vms: readonly FolderVmPlace[]): string[] {
  root = path.resolve(root);
  const rootName = path.basename(root);
  const labelOf = (dir: string) => {
    const rel = toPosix(path.relative(root, dir));
    return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? rootName : rel;
  };
  const namedAfter = (vm: FolderVmPlace) => {
    const folder = path.basename(vm.home).toLowerCase();
    const def = vm.definitionPath ? path.basename(vm.definitionPath, path.extname(vm.definitionPath)).toLowerCase() : undefined;
    return folder === vm.name.toLowerCase() || folder === def;
  };
  const own = vms.map((vm, i) => vm.isFolder || (namedAfter(vm) && vms.every((other, j) => j === i || !other.files.some((f) => isInside(f, vm.home)))));
  const lifted = vms.map((vm, i) => own[i]! && path.resolve(vm.home) !== root);
  const labels = vms.map((vm, i) => labelOf(lifted[i] ? path.dirname(vm.home) : vm.home));
  // One pass is enough: a VM put back into its own folder is alone there.
  const key = (i: number) => `${labels[i]}\u0000${vms[i]!.name}`;
  const count = new Map<string, number>();
  vms.forEach((_, i) => count.set(key(i), (count.get(key(i)) ?? 0) + 1));
  return vms.map((vm, i) => (lifted[i] && count.get(key(i))! > 1 ? labelOf(vm.home) : labels[i]!));
}

async function readSmallText(p: string): Promise<string | undefined> {
  const st = await stat(p).catch(() => undefined);
  if (!st || st.size > DEFINITION_MAX_BYTES) return undefined;
  return readFile(p, 'utf8').catch(() => undefined);
}

/**
 * Finds every VM under `root`. Results are sorted by definition path so repeated scans agree; a
 * UUID seen twice (a copied VM folder) keeps the first and identifies the copy by its path.
 */
export async function scanFolder(root: string, opts: ScanOptions = {}): Promise<DiscoveredVm[]> {
  root = path.resolve(root);
  const relPath = (p: string) => toPosix(path.relative(root, p)) || '.';
  const folders = await walkTree(root, opts);
  const confine = await folderConfinement(root, opts);
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
      const cloudService = ''; // set below, once every VM is known
      try {
        if (ext === '.xml') {
          if (!/<domain[\s>]/.test(text)) continue;
          const vm = await vmFromLibvirtXmlFile(file, text, { cloudService, fallbackId: relPath(file), confine });
          if (!vm) continue;
          definitionDirs.add(dir);
          await add(vm);
        } else if (ext === '.vbox') {
          const vm = await vmFromVboxFile(file, { cloudService, confine }, text);
          if (!vm) continue;
          definitionDirs.add(dir);
          await add(vm);
        } else if (ext === '.vmx') {
          definitionDirs.add(dir);
          await add(await vmFromVmxFile(file, { cloudService, fallbackId: relPath(file), confine }, text));
        } else if (ext === '.ovf') {
          const vm = await vmFromOvfFile(file, text, { cloudService, id: relPath(file), confine });
          if (!vm) continue;
          definitionDirs.add(dir);
          await add(vm);
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
      for (const r of (await describeDisk(path.basename(img), img, 'disk', { seen: new Set(), problems: [], confine })).slice(1)) parts.add(await realpath(r.path).catch(() => r.path));
    }
    const tops = images.filter((_, i) => !parts.has(reals[i]!));
    const problems: string[] = [];
    const refs = await describeAll((tops.length > 0 ? tops : images).map((f) => ({ name: path.basename(f), path: f })), problems, confine);
    await add({
      stableId: relPath(folder.dir),
      name: path.basename(folder.dir),
      cloudService: '',
      powerState: 'off',
      kind: 'images',
      disks: refs,
      problems,
    });
  }

  const services = folderCloudServices(
    root,
    vms.map((vm) => ({
      name: vm.name,
      definitionPath: vm.definitionPath,
      isFolder: vm.kind === 'images',
      home: vm.definitionPath ? path.dirname(vm.definitionPath) : path.join(root, vm.stableId),
      files: [...(vm.definitionPath ? [vm.definitionPath] : []), ...vm.disks.map((d) => d.path)],
    })),
  );
  vms.forEach((vm, i) => (vm.cloudService = services[i]!));

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
