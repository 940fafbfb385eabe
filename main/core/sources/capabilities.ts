import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CofferError } from '../errors.js';
import { ToolMissingError } from './exec.js';
import { createProvider, type ProviderSpec } from './index.js';
import { domainState, isLocalUri, virsh, VirshError } from './libvirt.js';
import { deleteCheckpoints, withChangedBlocks, type CbtDisk, type CbtHistory, type CbtReadResult } from './libvirt-cbt.js';
import { LiveSnapshotError, withConsistentSnapshot, type Consistency, type SnapshotWarning } from './libvirt-snapshot.js';
import type { PowerState } from './types.js';
import type { StepLog } from '../step-log.js';

/*
 * What protection asks of a hypervisor, behind one interface: the power state right now, and a
 * consistent read of the disks. Protection code names no hypervisor tool; a new source kind adds
 * its actions here. libvirt domains are addressed by UUID (a domain named "3" or like another
 * domain's UUID cannot be mistaken for it).
 */

/** The source a VM came from, as the catalog keeps it. */
export interface SourceRef {
  kind: ProviderSpec['kind'];
  target: string;
}

/** A VM as the hypervisor knows it: its stable id (libvirt UUID, VirtualBox UUID, ...) and its disk files. */
export interface VmAddress {
  stableId: string;
  name: string;
  diskPaths: readonly string[];
}

export interface ConsistentRead<T> {
  value: T;
  /** What the read really achieved: offline (VM off), filesystem (guest agent froze it), crash. */
  consistency: Consistency;
  warnings: SnapshotWarning[];
}

export type DiskReader<T> = (files: { name: string; path: string }[], consistency: Consistency) => Promise<T>;

export interface HypervisorActions {
  /** The disk files are on this machine (a remote libvirt host's are not: Coffer cannot replace them). */
  readonly disksAreLocal: boolean;
  /** Asks the hypervisor now; never the catalog's last scan. 'unknown' when it cannot tell. */
  currentPowerState(vm: VmAddress, signal?: AbortSignal): Promise<PowerState>;
  /**
   * Runs `read` on an unchanging view of the disks (a live snapshot where the hypervisor has one).
   * `read` gets the files to read and the consistency that view has, so the point records it.
   */
  consistentRead<T>(vm: VmAddress, read: DiskReader<T>): Promise<ConsistentRead<T>>;
  /**
   * Changed-block tracking (libvirt, running domains): `read` gets a point-in-time view of each
   * disk with what changed since its parent point (or why it is read in full). Undefined where it
   * does not apply right now (then consistentRead reads the files).
   */
  changedBlockRead?<T>(vm: VmAddress, history: CbtHistory, read: (disks: CbtDisk[], consistency: Consistency, checkpoint: string | undefined, readsDone: () => void) => Promise<T>, steps?: StepLog): Promise<CbtReadResult<T> | undefined>;
  /** Deletes the checkpoints of deleted points; returns what could not be deleted. */
  removeCheckpoints?(vm: VmAddress, names: readonly string[]): Promise<string[]>;
}

/** The actions of the hypervisor behind `source` (folder sources: the disk files themselves). */
export function hypervisorOf(source: SourceRef): HypervisorActions {
  if (source.kind === 'libvirt') return libvirtActions(source.target);
  if (source.kind === 'folder') return folderActions;
  return providerActions(source.kind);
}

/** Defines a restored libvirt domain from its XML file on a connection (`virsh define`). */
export async function defineVm(uri: string, xmlPath: string): Promise<void> {
  try {
    await virsh(uri, ['define', '--file', xmlPath]);
  } catch (e) {
    const why = e instanceof VirshError ? e.detail : (e as Error).message;
    throw new CofferError('DefineFailed', `${uri} refused the definition ${xmlPath}: ${why}`, { uri, file: xmlPath });
  }
}

function libvirtActions(uri: string): HypervisorActions {
  return {
    disksAreLocal: isLocalUri(uri),
    async currentPowerState(vm, signal) {
      try {
        return await domainState(uri, vm.stableId, signal ? { signal } : {});
      } catch (e) {
        throw hypervisorError(e, uri, vm);
      }
    },
    async consistentRead(vm, read) {
      // Errors of `read` (the vault's) pass through unchanged; the hypervisor's become SnapshotFailed.
      let readError: { e: unknown } | undefined;
      try {
        const r = await withConsistentSnapshot(uri, vm.stableId, async (frozen, consistency) => {
          try {
            return await read(frozen, consistency);
          } catch (e) {
            readError = { e };
            throw e;
          }
        });
        return { value: r.value, consistency: r.consistency, warnings: r.warnings };
      } catch (e) {
        if (readError && e === readError.e) throw e;
        throw hypervisorError(e, uri, vm);
      }
    },
    async changedBlockRead(vm, history, read, steps) {
      let readError: { e: unknown } | undefined;
      try {
        return await withChangedBlocks(
          uri,
          vm.stableId,
          history,
          async (disks, consistency, checkpoint, readsDone) => {
            try {
              return await read(disks, consistency, checkpoint, readsDone);
            } catch (e) {
              readError = { e };
              throw e;
            }
          },
          { diskPaths: vm.diskPaths, ...(steps ? { steps } : {}) },
        );
      } catch (e) {
        if (readError && e === readError.e) throw e;
        throw hypervisorError(e, uri, vm);
      }
    },
    async removeCheckpoints(vm, names) {
      const state = await domainState(uri, vm.stableId).catch(() => 'unknown');
      // A domain that is gone has no checkpoints left to delete.
      if (state === 'unknown') return [];
      return deleteCheckpoints(uri, vm.stableId, names);
    },
  };
}

function hypervisorError(e: unknown, uri: string, vm: VmAddress): unknown {
  if (e instanceof CofferError) return e;
  if (e instanceof ToolMissingError) return new CofferError('SourceUnreachable', `virsh is not installed: ${vm.name} on ${uri} cannot be reached.`, { uri });
  if (e instanceof LiveSnapshotError) return new CofferError('SnapshotFailed', `${vm.name}: ${e.message}`, { uri, vm: vm.name, phase: e.phase });
  if (e instanceof VirshError) return new CofferError('SnapshotFailed', `${vm.name} on ${uri}: ${e.detail}`, { uri, vm: vm.name });
  return e;
}

/** Offline reads of the files as they are; the vault's stable-read check catches a change. */
async function offlineRead<T>(vm: VmAddress, read: DiskReader<T>): Promise<ConsistentRead<T>> {
  const value = await read(
    vm.diskPaths.map((p) => ({ name: path.basename(p), path: p })),
    'offline',
  );
  return { value, consistency: 'offline', warnings: [] };
}

/** A folder holds files, not a hypervisor: a VM is "running" when a process has one of its disks open. */
const folderActions: HypervisorActions = {
  disksAreLocal: true,
  async currentPowerState(vm) {
    const holders = await processesHolding(vm.diskPaths);
    if (holders === null) return 'unknown';
    return holders.length > 0 ? 'running' : 'off';
  },
  consistentRead: offlineRead,
};

/** VirtualBox, VMware, Hyper-V: their provider lists the VM afresh with its state. */
function providerActions(kind: 'virtualbox' | 'vmware' | 'hyperv'): HypervisorActions {
  return {
    disksAreLocal: true,
    async currentPowerState(vm, signal) {
      const found = (await createProvider({ kind }).list(signal)).find((d) => d.stableId === vm.stableId);
      return found?.powerState ?? 'unknown';
    },
    consistentRead: offlineRead,
  };
}

export interface FileHolder {
  pid: number;
  command: string;
  path: string;
}

/**
 * Processes that have one of `files` open. Linux: a scan of /proc/<pid>/fd (processes of other
 * users are seen when Coffer runs as root, as it does for system hypervisors). macOS and other
 * Unixes: `lsof`. Elsewhere (Windows) null: the OS refuses to rename a file another process holds,
 * so the replace itself fails safely there.
 */
export async function processesHolding(files: readonly string[]): Promise<FileHolder[] | null> {
  const wanted = new Map<string, string>();
  for (const f of files) {
    const real = await fs.realpath(f).catch(() => null);
    if (real) wanted.set(real, f);
  }
  if (wanted.size === 0) return [];
  if (process.platform === 'linux') return procScan(wanted);
  if (process.platform === 'win32') return null;
  return lsof(wanted);
}

async function procScan(wanted: Map<string, string>): Promise<FileHolder[]> {
  const out: FileHolder[] = [];
  const pids = (await fs.readdir('/proc')).filter((d) => /^\d+$/.test(d));
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = await fs.readdir(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to see
    }
    for (const fd of fds) {
      const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const file = wanted.get(target);
      if (!file) continue;
      const command = (await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim();
      out.push({ pid: Number(pid), command, path: file });
      break;
    }
  }
  return out;
}

function lsof(wanted: Map<string, string>): Promise<FileHolder[] | null> {
  return new Promise((resolve) => {
    execFile('lsof', ['-F', 'pcn', '--', ...wanted.keys()], { encoding: 'utf8', timeout: 30_000 }, (err, stdout) => {
      const e = err as NodeJS.ErrnoException | null;
      if (e?.code === 'ENOENT') return resolve(null);
      const out: FileHolder[] = [];
      let pid = 0;
      let command = '?';
      for (const line of stdout.split('\n')) {
        if (line.startsWith('p')) pid = Number(line.slice(1));
        else if (line.startsWith('c')) command = line.slice(1);
        else if (line.startsWith('n') && pid !== process.pid) out.push({ pid, command, path: wanted.get(line.slice(1)) ?? line.slice(1) });
      }
      resolve(out);
    });
  });
}
