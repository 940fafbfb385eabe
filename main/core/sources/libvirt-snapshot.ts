import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorCode } from '../../../preload/errors.js';
import type { LibvirtDiskDefinition, LibvirtDomainDefinition } from './formats/libvirt-xml.js';
import { domainDefinition, domainState, domainUuid, domblklist, virsh, VirshError, type VirshOptions } from './libvirt.js';

// Live backup (W16) of a libvirt domain: freeze, external disk-only snapshot, read the frozen
// base, commit back. The virsh calls and domain lookups it builds on are in libvirt.ts.

/** Asks the guest agent to freeze all guest filesystems; returns how many were frozen. */
export async function freezeFilesystems(uri: string, domain: string, opts: VirshOptions = {}): Promise<number> {
  const out = await virsh(uri, ['domfsfreeze', '--domain', domainUuid(domain)], opts);
  return Number(/Froze (\d+)/.exec(out)?.[1] ?? 0);
}

export async function thawFilesystems(uri: string, domain: string, opts: VirshOptions = {}): Promise<number> {
  const out = await virsh(uri, ['domfsthaw', '--domain', domainUuid(domain)], opts);
  return Number(/Thawed (\d+)/.exec(out)?.[1] ?? 0);
}

/** Our overlays are recognisable, so one left by a crashed Coffer can be committed on the next run. */
const OVERLAY_RE = /\.coffer-[0-9a-z]+\.overlay\.qcow2$/;

export interface SnapshotDisk {
  /** Target device, e.g. vda. */
  name: string;
  /** The file the VM wrote before the snapshot; frozen while the overlay is active. */
  basePath: string;
  overlayPath: string;
}

/** The disks a live snapshot covers: writable file/block disks. Others are left out of the snapshot. */
function snapshotTargets(def: LibvirtDomainDefinition): { take: LibvirtDiskDefinition[]; skip: LibvirtDiskDefinition[] } {
  const take: LibvirtDiskDefinition[] = [];
  const skip: LibvirtDiskDefinition[] = [];
  for (const d of def.disks) {
    if (d.device === 'disk' && !d.readonly && d.path) take.push(d);
    else skip.push(d);
  }
  const network = def.disks.find((d) => d.device === 'disk' && !d.path && d.sourceType !== 'file');
  if (network) throw new Error(`disk ${network.target} of ${def.name} is a ${network.sourceType} disk; live backup supports file and block disks only`);
  return { take, skip };
}

/** One --diskspec value: virsh splits it at commas, so a comma in a target or path is doubled (`a,,b`). */
export function diskspec(target: string, fields: readonly (readonly [string, string])[]): string {
  const esc = (v: string) => v.replace(/,/g, ',,');
  return [esc(target), ...fields.map(([k, v]) => `${k}=${esc(v)}`)].join(',');
}

/** The arguments of the disk-only snapshot: overlays for `take`, no snapshot for the targets in `skip`. */
export function diskOnlySnapshotArgs(domain: string, name: string, take: readonly { name: string; overlayPath: string }[], skip: readonly string[], quiesce: boolean): string[] {
  const args = ['snapshot-create-as', '--domain', domainUuid(domain), '--name', name, '--disk-only', '--atomic', '--no-metadata'];
  if (quiesce) args.push('--quiesce');
  for (const d of take) args.push('--diskspec', diskspec(d.name, [['snapshot', 'external'], ['file', d.overlayPath]]));
  for (const t of skip) if (t) args.push('--diskspec', diskspec(t, [['snapshot', 'no']]));
  return args;
}

/**
 * `snapshot-create-as --disk-only --atomic --no-metadata`: every writable disk gets a new qcow2
 * overlay (in overlayDir, or next to the disk) and its current file becomes a frozen base.
 * --atomic means a failure leaves no overlay active.
 */
export async function createDiskOnlySnapshot(
  uri: string,
  domain: string,
  snap: { quiesce: boolean; overlayDir?: string },
  opts: VirshOptions = {},
): Promise<SnapshotDisk[]> {
  const def = await domainDefinition(uri, domain, opts);
  const { take, skip } = snapshotTargets(def);
  if (take.length === 0) throw new Error(`${def.name} has no writable file or block disk to snapshot`);
  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const disks: SnapshotDisk[] = take.map((d) => {
    const base = d.path!;
    const dir = snap.overlayDir ?? (d.sourceType === 'block' ? '/var/lib/libvirt/images' : path.dirname(base));
    return { name: d.target, basePath: base, overlayPath: path.join(dir, `${path.basename(base)}.coffer-${tag}.overlay.qcow2`) };
  });
  await virsh(uri, diskOnlySnapshotArgs(domain, `coffer-${tag}`, disks, skip.map((d) => d.target), snap.quiesce), opts);
  return disks;
}

/**
 * Merges the active overlay of `disk` back into its base and pivots the VM onto the base
 * (`blockcommit --active --pivot --wait`), then deletes the overlay, once the VM no longer uses it.
 */
export async function blockCommitActive(uri: string, domain: string, disk: string, opts: VirshOptions & { commitTimeoutMs?: number } = {}): Promise<{ overlayPath: string; basePath: string }> {
  const before = (await domblklist(uri, domain, opts)).find((d) => d.target === disk);
  if (!before) throw new Error(`${domain} has no disk ${disk}`);
  await virsh(uri, ['blockcommit', '--domain', domainUuid(domain), '--path', disk, '--active', '--pivot', '--wait', '--verbose'], {
    ...opts,
    timeoutMs: opts.commitTimeoutMs ?? 6 * 60 * 60_000,
  });
  const after = (await domblklist(uri, domain, opts)).find((d) => d.target === disk);
  if (!after || after.source === before.source) {
    throw new Error(`after blockcommit ${disk} of ${domain} still runs on ${before.source}; the overlay was kept`);
  }
  await unlink(before.source).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw new Error(`committed ${disk} of ${domain} but cannot delete the overlay ${before.source}: ${e.message}`);
  });
  return { overlayPath: before.source, basePath: after.source };
}

export type Consistency = 'application' | 'filesystem' | 'crash' | 'offline';

export interface SnapshotWarning {
  code: ErrorCode;
  /** The English sentence. */
  message: string;
  /** The domain it is about. */
  subject?: string;
  /** What no face can translate: libvirt's own words, file names. */
  detail?: string;
}

export interface ConsistentSnapshotOptions extends VirshOptions {
  /** Where overlays go while the backup reads the base (default: beside each disk). */
  overlayDir?: string;
  commitTimeoutMs?: number;
}

/** The live backup failed in a way that needs an admin: the message says what state the VM is in. */
export class LiveSnapshotError extends Error {
  constructor(
    message: string,
    readonly phase: 'snapshot' | 'commit' | 'verify',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LiveSnapshotError';
  }
}

async function commitAll(uri: string, domain: string, disks: readonly { name: string }[], opts: ConsistentSnapshotOptions): Promise<string[]> {
  const failures: string[] = [];
  for (const d of disks) {
    try {
      await blockCommitActive(uri, domain, d.name, opts);
    } catch (e) {
      failures.push(`${d.name}: ${(e as Error).message}`);
    }
  }
  return failures;
}

/**
 * Runs `fn` on a consistent, unchanging view of the domain's disks; fn is told the consistency reached.
 * - Off: fn gets the disk files themselves ('offline'; the caller's stable-read check applies).
 * - Running or paused: an external disk-only snapshot, quiesced through the guest agent when it
 *   answers ('filesystem': the agent froze the filesystems; application hooks are the guest's
 *   business), else crash-consistent with warning GuestAgentUnavailable. fn reads the frozen base
 *   files while the VM writes into overlays; afterwards the overlays are always committed, the VM
 *   pivoted back and the overlays deleted, also when fn throws. The disks are then checked to be
 *   the original files again.
 */
export async function withConsistentSnapshot<T>(
  uri: string,
  domain: string,
  fn: (frozenDisks: { name: string; path: string }[], consistency: Consistency) => Promise<T>,
  opts: ConsistentSnapshotOptions = {},
): Promise<{ value: T; consistency: Consistency; warnings: SnapshotWarning[] }> {
  const warnings: SnapshotWarning[] = [];
  const state = await domainState(uri, domain, opts);
  if (state === 'off') {
    const def = await domainDefinition(uri, domain, opts);
    const disks = snapshotTargets(def).take.map((d) => ({ name: d.target, path: d.path! }));
    return { value: await fn(disks, 'offline'), consistency: 'offline', warnings };
  }

  // A crash in an earlier run may have left one of our overlays active: merge it before anything else.
  const leftovers = (await domblklist(uri, domain, opts)).filter((d) => OVERLAY_RE.test(d.source));
  if (leftovers.length > 0) {
    const failed = await commitAll(uri, domain, leftovers.map((d) => ({ name: d.target })), opts);
    if (failed.length) throw new LiveSnapshotError(`${domain} still runs on overlays of an earlier backup that cannot be committed: ${failed.join('; ')}`, 'commit');
    const files = leftovers.map((d) => d.source).join(', ');
    warnings.push({ code: 'Interrupted', message: `committed overlays left by an interrupted backup: ${files}`, subject: domain, detail: files });
  }

  const original = await domblklist(uri, domain, opts);
  const def = await domainDefinition(uri, domain, opts);
  let consistency: Consistency;
  let disks: SnapshotDisk[];
  const snapOpts = opts.overlayDir ? { overlayDir: opts.overlayDir } : {};
  try {
    if (def.guestAgent === 'absent' || def.guestAgent === 'disconnected') throw new Error(`the guest agent channel is ${def.guestAgent}`);
    disks = await createDiskOnlySnapshot(uri, domain, { quiesce: true, ...snapOpts }, opts);
    consistency = 'filesystem';
  } catch (quiesceError) {
    const why = quiesceError instanceof VirshError ? quiesceError.detail : (quiesceError as Error).message;
    try {
      disks = await createDiskOnlySnapshot(uri, domain, { quiesce: false, ...snapOpts }, opts);
    } catch (e) {
      throw new LiveSnapshotError(`cannot take a snapshot of ${domain}: ${e instanceof VirshError ? e.detail : (e as Error).message}`, 'snapshot', { cause: e });
    }
    consistency = 'crash';
    warnings.push({ code: 'GuestAgentUnavailable', message: `${domain}: no quiesced snapshot (${why}); the backup is crash-consistent`, subject: domain, detail: why });
  }

  let value: T | undefined;
  let fnError: unknown;
  let fnFailed = false;
  try {
    value = await fn(disks.map((d) => ({ name: d.name, path: d.basePath })), consistency);
  } catch (e) {
    fnFailed = true;
    fnError = e;
  }

  // Cleanup ignores the abort signal: a cancelled backup must still leave the VM on its own disks.
  const cleanupOpts: ConsistentSnapshotOptions = { ...opts, signal: undefined };
  const failures = await commitAll(uri, domain, disks, cleanupOpts);
  let verifyError: string | undefined;
  try {
    const now = await domblklist(uri, domain, cleanupOpts);
    const moved = original.filter((o) => now.find((n) => n.target === o.target)?.source !== o.source);
    if (moved.length) verifyError = `disks not back on their original files: ${moved.map((o) => `${o.target} (expected ${o.source}, is ${now.find((n) => n.target === o.target)?.source ?? 'gone'})`).join(', ')}`;
  } catch (e) {
    verifyError = `cannot check the disks afterwards: ${(e as Error).message}`;
  }
  if (failures.length || verifyError) {
    const msg = [failures.length ? `block commit failed for ${failures.join('; ')}` : '', verifyError ?? ''].filter(Boolean).join('; ');
    throw new LiveSnapshotError(`${domain} after backup: ${msg}. Run \`virsh -c ${uri} domblklist ${domain}\` and commit leftover *.coffer-*.overlay.qcow2 with \`virsh blockcommit --active --pivot\`.`, failures.length ? 'commit' : 'verify', fnFailed ? { cause: fnError } : undefined);
  }
  if (fnFailed) throw fnError;
  return { value: value as T, consistency, warnings };
}
