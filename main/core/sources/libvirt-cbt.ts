import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import path from 'node:path';
import type { FullReadReason } from '../../../preload/contract.js';
import type { ByteRange } from '../vault/plan.js';
import { runTool } from './exec.js';
import type { LibvirtDiskDefinition } from './formats/libvirt-xml.js';
import { domainDefinition, domainState, domainUuid, isLocalUri, virsh, VirshError, type VirshOptions } from './libvirt.js';
import { freezeFilesystems, thawFilesystems, type Consistency, type SnapshotWarning } from './libvirt-snapshot.js';
import { openNbdExport, type NbdExport } from './nbd-client.js';

/*
 * Changed-block tracking for running libvirt domains (issue 13 §1): libvirt's backup API with
 * checkpoints, in PULL mode.
 *
 * Every backup of a running domain is one `virsh backup-begin` with a <domainbackup mode='pull'>
 * (QEMU serves a point-in-time view of each disk over NBD on a unix socket; writes the guest makes
 * meanwhile first copy the old data into a scratch image) and a <domaincheckpoint> created
 * atomically with it, so the next backup can ask for what changed since exactly this point.
 * A disk whose parent point's checkpoint still exists is backed up incrementally: its export
 * carries the dirty bitmap `qemu:dirty-bitmap:backup-<disk>`, read as extents with
 * `nbdinfo --map` (libnbd), and only the chunks those extents touch are read, through a small
 * NBD client (nbd-client.ts) straight into the vault's segment buffers.
 *
 * Why pull and not push: push mode copies every dirty block into a scratch qcow2 first (written
 * once, read again, then deleted: twice the I/O and as much free space as the change), and the
 * dirty extents must then be recovered from `qemu-img map`, where a dirty block that reads as
 * zeros is indistinguishable from an unallocated one. Pull mode reads each dirty block once, from
 * the live image, with the exact bitmap; the scratch image only holds what the guest overwrites
 * while the backup runs.
 *
 * The chain breaks (full read, with the reason in the job): the parent's checkpoint is gone from
 * the domain ('checkpointMissing'), the disk cannot keep a persistent bitmap ('bitmapUnsupported':
 * raw, qcow2 v2), QEMU refuses the bitmap (the domain stopped without saving it: 'domainRestarted'),
 * or the domain has only checkpoints whose points were deleted ('parentDeleted'). Checkpoints no
 * point refers to are deleted here; retention deletes those of the points it removes.
 */

/** Names of the checkpoints Coffer creates (others on the domain are never touched). */
export const CHECKPOINT_PREFIX = 'coffer-';

/** A point that may serve as a disk's parent: its id and the checkpoint recorded for that disk. */
export interface CbtCandidate {
  pointId: string;
  checkpoint?: string | undefined;
}

export interface CbtHistory {
  /** Per disk file path: the points that hold that disk, newest first. */
  candidates: (diskPath: string) => readonly CbtCandidate[];
  /** Every checkpoint some point of this VM in the vault refers to. */
  referenced: ReadonlySet<string>;
}

export interface CbtDisk {
  /** Target device (vda). */
  target: string;
  /** The disk file (recorded in the point; the bytes come from the NBD export). */
  path: string;
  /** The file's format (qcow2, raw): restore writes it back in that format. */
  format: string;
  /** Guest-visible size. */
  size: number;
  /** Incremental: the parent point and the byte ranges dirtied since its checkpoint. */
  parentPointId?: string;
  changed?: ByteRange[];
  /** Full read: why. */
  fullReadReason?: FullReadReason;
  /** Reads the point-in-time view. */
  readRange: (offset: number, length: number) => Promise<Buffer>;
  /** Whether the new checkpoint covers this disk (a bitmap is kept). */
  tracked: boolean;
}

export interface CbtReadResult<T> {
  value: T;
  consistency: Consistency;
  warnings: SnapshotWarning[];
  /** The checkpoint created with this backup (none when no disk can keep a bitmap). */
  checkpoint: string | undefined;
  disks: CbtDisk[];
  /** Bytes read over NBD. */
  bytesRead: number;
}

export interface CbtOptions extends VirshOptions {
  /** Where scratch images go while the backup runs (default: beside each disk). */
  scratchDir?: string;
}

/** The Coffer checkpoints of a domain (`virsh checkpoint-list --name`). */
export async function listCheckpoints(uri: string, domain: string, opts: VirshOptions = {}): Promise<string[]> {
  const out = await virsh(uri, ['checkpoint-list', '--domain', domainUuid(domain), '--name'], opts);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(CHECKPOINT_PREFIX));
}

/** Deletes checkpoints (their bitmaps go with them); one already gone counts as deleted. Returns the failures. */
export async function deleteCheckpoints(uri: string, domain: string, names: readonly string[], opts: VirshOptions = {}, known?: ReadonlySet<string>): Promise<string[]> {
  const failures: string[] = [];
  if (names.length === 0) return failures;
  const present = known ?? new Set(await listCheckpoints(uri, domain, opts));
  for (const n of names) {
    if (!n.startsWith(CHECKPOINT_PREFIX) || !present.has(n)) continue;
    try {
      await virsh(uri, ['checkpoint-delete', '--domain', domainUuid(domain), '--checkpointname', n], opts);
    } catch (e) {
      failures.push(`${n}: ${e instanceof VirshError ? e.detail : (e as Error).message}`);
    }
  }
  return failures;
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

/** The <domainbackup> of a pull backup: per disk full or incremental from a checkpoint. */
export function backupXml(socket: string, disks: readonly { target: string; scratch: string; incremental?: string | undefined }[], skip: readonly string[]): string {
  const lines = disks.map((d) => {
    const mode = d.incremental ? ` backupmode='incremental' incremental='${xmlEscape(d.incremental)}' exportbitmap='${xmlEscape(exportBitmap(d.target))}'` : ` backupmode='full'`;
    return `<disk name='${xmlEscape(d.target)}' backup='yes' type='file' exportname='${xmlEscape(d.target)}'${mode}><scratch file='${xmlEscape(d.scratch)}'/></disk>`;
  });
  for (const t of skip) lines.push(`<disk name='${xmlEscape(t)}' backup='no'/>`);
  return `<domainbackup mode='pull'><server transport='unix' socket='${xmlEscape(socket)}'/><disks>${lines.join('')}</disks></domainbackup>`;
}

/** The dirty bitmap an incremental export carries (named in the backup XML, so no backup-dumpxml is needed). */
export const exportBitmap = (target: string): string => `backup-${target}`;

/** The <domaincheckpoint> created with the backup: a bitmap for each tracked disk, none for the others. */
export function checkpointXml(name: string, tracked: readonly string[], untracked: readonly string[]): string {
  const disks = [...tracked.map((t) => `<disk name='${xmlEscape(t)}' checkpoint='bitmap'/>`), ...untracked.map((t) => `<disk name='${xmlEscape(t)}' checkpoint='no'/>`)];
  return `<domaincheckpoint><name>${xmlEscape(name)}</name><disks>${disks.join('')}</disks></domaincheckpoint>`;
}

/** `nbdinfo --map --json` output -> the extents whose type has bit 0 set (dirty for a dirty-bitmap context). */
export function dirtyFromMap(json: string): ByteRange[] {
  const rows = JSON.parse(json) as Array<{ offset: number; length: number; type: number }>;
  const out: ByteRange[] = [];
  for (const r of rows) {
    if (!(r.type & 1) || r.length <= 0) continue;
    const last = out[out.length - 1];
    if (last && last.offset + last.length === r.offset) last.length += r.length;
    else out.push({ offset: r.offset, length: r.length });
  }
  return out;
}

async function dirtyExtents(socket: string, exportName: string, bitmap: string, opts: VirshOptions): Promise<ByteRange[]> {
  const uri = `nbd+unix:///${encodeURIComponent(exportName)}?socket=${encodeURIComponent(socket)}`;
  const r = await runTool('nbdinfo', ['--json', `--map=qemu:dirty-bitmap:${bitmap}`, uri], { timeoutMs: opts.timeoutMs ?? 10 * 60_000, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (r.code !== 0) throw new Error(`nbdinfo --map of ${exportName} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  return dirtyFromMap(r.stdout);
}

/** Whether a disk image can keep a persistent dirty bitmap: qcow2 version 3 (compat 1.1). */
async function keepsBitmaps(uri: string, d: LibvirtDiskDefinition): Promise<boolean> {
  if (d.format !== 'qcow2') return false;
  if (!isLocalUri(uri) || d.sourceType !== 'file') return true; // libvirt refuses the checkpoint if not
  const r = await runTool('qemu-img', ['info', '--force-share', '--output=json', d.path!]).catch(() => undefined);
  if (!r || r.code !== 0) return true;
  const compat = (JSON.parse(r.stdout) as { 'format-specific'?: { data?: { compat?: string } } })['format-specific']?.data?.compat;
  return compat !== '0.10';
}

async function domainHasBackupJob(uri: string, domain: string, opts: VirshOptions): Promise<boolean> {
  const info = await virsh(uri, ['domjobinfo', '--domain', domainUuid(domain)], opts).catch(() => '');
  return /^Operation:\s*Backup/m.test(info);
}

/** Ends the domain's backup job (a pull backup runs until it is aborted); never throws. */
async function endBackupJob(uri: string, domain: string, opts: VirshOptions, known = false): Promise<void> {
  if (known || (await domainHasBackupJob(uri, domain, opts))) await virsh(uri, ['domjobabort', '--domain', domainUuid(domain)], opts).catch(() => undefined);
}

/** Whether changed-block tracking can run here at all: the domain runs and nbdinfo is installed. */
export async function cbtAvailable(uri: string, domain: string, opts: VirshOptions = {}): Promise<boolean> {
  const state = await domainState(uri, domain, opts);
  if (state !== 'running' && state !== 'paused') return false;
  if (!isLocalUri(uri)) return false; // the NBD socket is on the domain's host
  return onPath('nbdinfo');
}

/** Whether a tool is on PATH (a look at the folders, not a process per backup). */
async function onPath(tool: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    try {
      await fs.access(path.join(dir, tool), fs.constants.X_OK);
      return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

const OVERLAY_RE = /\.coffer-[0-9a-z]+\.overlay\.qcow2$/;

/**
 * Runs `fn` on a point-in-time view of a running domain's disks, served over NBD by a libvirt
 * pull backup that also creates a new checkpoint. Each disk comes with its parent and dirty
 * ranges (incremental) or the reason it is read in full. Returns undefined when changed-block
 * tracking does not apply (the domain is off, a disk is not a local file, an interrupted live
 * snapshot is still active): the caller reads the files as before. Afterwards the backup job is
 * ended and the socket and scratch images removed, also on failure; on failure the new checkpoint
 * is deleted too (no point refers to it).
 */
export async function withChangedBlocks<T>(
  uri: string,
  domain: string,
  history: CbtHistory,
  fn: (disks: CbtDisk[], consistency: Consistency, checkpoint: string | undefined) => Promise<T>,
  opts: CbtOptions = {},
): Promise<CbtReadResult<T> | undefined> {
  if (!(await cbtAvailable(uri, domain, opts))) return undefined;
  const def = await domainDefinition(uri, domain, opts);
  const take = def.disks.filter((d) => d.device === 'disk' && !d.readonly && d.path);
  if (take.length === 0 || take.some((d) => d.sourceType !== 'file' || OVERLAY_RE.test(d.path!))) return undefined;
  const skip = def.disks.filter((d) => !take.includes(d)).map((d) => d.target).filter(Boolean);
  const warnings: SnapshotWarning[] = [];

  let existing: Set<string>;
  try {
    existing = new Set(await listCheckpoints(uri, domain, opts));
  } catch (e) {
    // A driver without the checkpoint API (libvirt's test driver, old libvirt): read the files as before.
    if (e instanceof VirshError) return undefined;
    throw e;
  }
  const orphans = [...existing].filter((c) => !history.referenced.has(c));

  interface Planned {
    d: LibvirtDiskDefinition;
    tracked: boolean;
    parent?: { pointId: string; checkpoint: string };
    reason?: FullReadReason;
  }
  const planned: Planned[] = [];
  for (const d of take) {
    const tracked = await keepsBitmaps(uri, d);
    if (!tracked) {
      planned.push({ d, tracked, reason: 'bitmapUnsupported' });
      continue;
    }
    const cands = history.candidates(d.path!);
    const usable = cands.find((c) => c.checkpoint && existing.has(c.checkpoint));
    if (usable) planned.push({ d, tracked, parent: { pointId: usable.pointId, checkpoint: usable.checkpoint! } });
    else if (cands.length === 0) planned.push({ d, tracked, reason: orphans.length > 0 ? 'parentDeleted' : 'firstBackup' });
    else if (cands.some((c) => c.checkpoint)) planned.push({ d, tracked, reason: orphans.length > 0 ? 'parentDeleted' : 'checkpointMissing' });
    else planned.push({ d, tracked, reason: orphans.length > 0 ? 'parentDeleted' : 'noParent' });
  }
  // Checkpoints no point refers to only make QEMU track writes for nobody.
  const orphanFailures = await deleteCheckpoints(uri, domain, orphans, opts, existing);
  if (orphanFailures.length) warnings.push({ code: 'SnapshotFailed', message: `${def.name}: cannot delete unused checkpoints: ${orphanFailures.join('; ')}`, subject: def.name, detail: orphanFailures.join('; ') });

  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-cbt-'));
  await fs.chmod(work, 0o755);
  const socket = path.join(work, 'nbd.sock');
  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const checkpoint = planned.some((p) => p.tracked) ? `${CHECKPOINT_PREFIX}${tag}` : undefined;
  const scratchOf = (d: LibvirtDiskDefinition) => path.join(opts.scratchDir ?? path.dirname(d.path!), `${path.basename(d.path!)}.coffer-${tag}.scratch.qcow2`);
  const exports: NbdExport[] = [];
  let begun = false;
  let consistency: Consistency = 'crash';
  let done = false;
  try {
    const begin = async (): Promise<void> => {
      const bxml = path.join(work, 'backup.xml');
      await fs.writeFile(bxml, backupXml(socket, planned.map((p) => ({ target: p.d.target, scratch: scratchOf(p.d), incremental: p.parent?.checkpoint })), skip));
      const args = ['backup-begin', '--domain', domainUuid(domain), '--backupxml', bxml];
      if (checkpoint) {
        const cxml = path.join(work, 'checkpoint.xml');
        await fs.writeFile(cxml, checkpointXml(checkpoint, planned.filter((p) => p.tracked).map((p) => p.d.target), [...planned.filter((p) => !p.tracked).map((p) => p.d.target), ...skip]));
        args.push('--checkpointxml', cxml);
      }
      await virsh(uri, args, opts);
      begun = true;
    };
    // The consistency of the point is as for a live snapshot: the guest agent freezes the
    // filesystems for the instant the backup and its checkpoint are created.
    let frozen = false;
    if (def.guestAgent !== 'absent' && def.guestAgent !== 'disconnected') {
      try {
        await freezeFilesystems(uri, domain, opts);
        frozen = true;
      } catch (e) {
        const why = e instanceof VirshError ? e.detail : (e as Error).message;
        warnings.push({ code: 'GuestAgentUnavailable', message: `${def.name}: the guest agent did not freeze the filesystems (${why}); the backup is crash-consistent`, subject: def.name, detail: why });
      }
    } else {
      const why = `the guest agent channel is ${def.guestAgent}`;
      warnings.push({ code: 'GuestAgentUnavailable', message: `${def.name}: no quiesced backup (${why}); the backup is crash-consistent`, subject: def.name, detail: why });
    }
    /** backup-begin; a pull backup left running by a Coffer that crashed blocks every new one: end it and begin again. */
    const beginOrEndLeftover = async (): Promise<void> => {
      try {
        await begin();
      } catch (e) {
        if (!(e instanceof VirshError) || !(await domainHasBackupJob(uri, domain, opts))) throw e;
        await endBackupJob(uri, domain, opts, true);
        await begin();
      }
    };
    try {
      try {
        await beginOrEndLeftover();
      } catch (e) {
        // QEMU refuses a bitmap that was not saved (the domain stopped uncleanly, or moved):
        // read those disks in full, from a new checkpoint.
        if (!(e instanceof VirshError) || !planned.some((p) => p.parent)) throw e;
        const reason: FullReadReason = /inconsistent|in use|in-use/i.test(e.detail) ? 'domainRestarted' : 'checkpointMissing';
        for (const p of planned) {
          if (!p.parent) continue;
          delete p.parent;
          p.reason = reason;
        }
        await begin();
      }
      consistency = frozen ? 'filesystem' : 'crash';
    } finally {
      if (frozen) await thawFilesystems(uri, domain, { ...opts, signal: undefined }).catch(() => undefined);
    }
    const disks: CbtDisk[] = [];
    for (const p of planned) {
      const ex = { exportName: p.d.target, bitmap: p.parent ? exportBitmap(p.d.target) : undefined };
      const nbd = await openNbdExport(socket, ex.exportName);
      exports.push(nbd);
      const disk: CbtDisk = {
        target: p.d.target,
        path: p.d.path!,
        format: p.d.format ?? 'raw',
        size: nbd.size,
        tracked: p.tracked,
        readRange: (offset, length) => nbd.read(offset, length),
      };
      if (p.parent) {
        if (!ex.bitmap) throw new Error(`the incremental backup of ${def.name} exports no dirty bitmap for ${p.d.target}`);
        disk.parentPointId = p.parent.pointId;
        disk.changed = await dirtyExtents(socket, ex.exportName, ex.bitmap, opts);
      } else disk.fullReadReason = p.reason ?? 'firstBackup';
      disks.push(disk);
    }
    const value = await fn(disks, consistency, checkpoint);
    done = true;
    return { value, consistency, warnings, checkpoint, disks, bytesRead: exports.reduce((s, x) => s + x.bytesRead, 0) };
  } finally {
    // Cleanup ignores the abort signal: a cancelled backup must still end the job on the domain.
    const cleanup: VirshOptions = { ...opts, signal: undefined };
    for (const x of exports) await x.close().catch(() => undefined);
    if (begun) await endBackupJob(uri, domain, cleanup, true);
    // No point refers to the new checkpoint unless fn (the vault's backup) committed one.
    if (begun && checkpoint && !done) await deleteCheckpoints(uri, domain, [checkpoint], cleanup).catch(() => undefined);
    for (const p of planned) await fs.rm(scratchOf(p.d), { force: true }).catch(() => undefined);
    await fs.rm(work, { recursive: true, force: true });
  }
}
