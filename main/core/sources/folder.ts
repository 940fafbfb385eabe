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
  const rootName = path.basename(root);
  const cloudServiceOf = (dir: string) => {
    const rel = toPosix(path.relative(root, dir));
    return rel === '' || rel.startsWith('..') ? rootName : rel;
  };
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
      const cloudService = cloudServiceOf(dir);
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
