import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import path from 'node:path';
import type { FullReadReason } from '../../../preload/contract.js';
import type { ByteRange } from '../vault/plan.js';
import { runTool } from './exec.js';
import { parseLibvirtDomainXml, type LibvirtDiskDefinition } from './formats/libvirt-xml.js';
import { domainUuid, isLocalUri, powerStateFromDomstate, virsh, VirshError, VirshSession, type VirshOptions } from './libvirt.js';
import { freezeFilesystems, thawFilesystems, type Consistency, type SnapshotWarning } from './libvirt-snapshot.js';
import { nbdExtents, openNbdExport, type NbdExport } from './nbd-client.js';
import { StepLog } from '../step-log.js';

/*
 * Changed-block tracking for running libvirt domains (issue 13 §1): libvirt's backup API with
 * checkpoints, in PULL mode.
 *
 * Every backup of a running domain is one `virsh backup-begin` with a <domainbackup mode='pull'>
 * (QEMU serves a point-in-time view of each disk over NBD on a unix socket; writes the guest makes
 * meanwhile first copy the old data into a scratch image) and a <domaincheckpoint> created
 * atomically with it, so the next backup can ask for what changed since exactly this point.
 * A disk whose parent point's checkpoint still exists is backed up incrementally: its export
 * carries the dirty bitmap `qemu:dirty-bitmap:backup-<disk>`, read as extents (NBD block status)
 * by a small NBD client (nbd-client.ts), and only the chunks those extents touch are read, through
 * the same client, straight into the vault's segment buffers.
 *
 * Fixed costs per backup, each a process that takes 0.5-1 s to start on a busy host: one virsh for
 * state, checkpoints and definition together, one `qemu-img info` per disk (in parallel: the
 * image's format version and stored bitmaps), `backup-begin`, `domjobabort` (and the guest
 * agent's freeze and thaw when it runs). No process per disk for the dirty extents.
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
 * the domain has only checkpoints whose points were deleted ('parentDeleted'), or the domain was
 * defined anew (a transient domain recreated: its checkpoint metadata gone, the parent's bitmap
 * left in the qcow2: 'domainRecreated'). Checkpoints no point refers to and coffer-* bitmaps no
 * checkpoint describes are deleted here; retention deletes the checkpoints of the points it removes.
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
  /** Reads the point-in-time view (into the caller's buffer when given). */
  readRange: (offset: number, length: number, into?: Buffer) => Promise<Buffer>;
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
  /** Where each step's time goes (the job's details). */
  steps?: StepLog;
  /** The disk files the catalog knows for the domain: their `qemu-img info` starts while virsh connects. */
  diskPaths?: readonly string[];
}

/** The Coffer checkpoints in `virsh checkpoint-list --name` output. */
const cofferCheckpoints = (out: string): string[] =>
  out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(CHECKPOINT_PREFIX));

/** The Coffer checkpoints of a domain (`virsh checkpoint-list --name`). */
export async function listCheckpoints(uri: string, domain: string, opts: VirshOptions = {}): Promise<string[]> {
  return cofferCheckpoints(await virsh(uri, ['checkpoint-list', '--domain', domainUuid(domain), '--name'], opts));
}

/** A checkpoint whose bitmap QEMU no longer has (the domain was killed): only its metadata can go. */
const BROKEN_CHECKPOINT_RE = /bitmap .* not found|missing or broken bitmap|inconsistent/i;

/**
 * Deletes checkpoints (their bitmaps go with them); one already gone counts as deleted, one whose
 * bitmap is gone loses its metadata. Returns the failures.
 */
export async function deleteCheckpoints(uri: string, domain: string, names: readonly string[], opts: VirshOptions = {}, known?: ReadonlySet<string>): Promise<string[]> {
  const failures: string[] = [];
  if (names.length === 0) return failures;
  const present = known ?? new Set(await listCheckpoints(uri, domain, opts));
  for (const n of names) {
    if (!n.startsWith(CHECKPOINT_PREFIX) || !present.has(n)) continue;
    const del = (extra: string[]) => virsh(uri, ['checkpoint-delete', '--domain', domainUuid(domain), '--checkpointname', n, ...extra], opts);
    try {
      await del([]);
    } catch (e) {
      const detail = e instanceof VirshError ? e.detail : (e as Error).message;
      if (e instanceof VirshError && BROKEN_CHECKPOINT_RE.test(detail)) {
        const again = await del(['--metadata']).then(
          () => undefined,
          (e2: unknown) => (e2 instanceof VirshError ? e2.detail : (e2 as Error).message),
        );
        if (again === undefined) continue;
      }
      failures.push(`${n}: ${detail}`);
    }
  }
  return failures;
}

/** Several virsh commands' outputs, in order (through the job's session: no process of their own). */
const virshBatch = (uri: string, commands: readonly (readonly string[])[], opts: VirshOptions): Promise<string[]> => Promise.all(commands.map((c) => virsh(uri, c, opts)));

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

/** The <domaincheckpoint> that redefines a checkpoint for bitmaps left without one, so `checkpoint-delete` removes them. */
export function redefineXml(name: string, disks: readonly string[]): string {
  return `<domaincheckpoint><name>${xmlEscape(name)}</name><creationTime>1</creationTime><disks>${disks.map((d) => `<disk name='${xmlEscape(d)}' checkpoint='bitmap' bitmap='${xmlEscape(name)}'/>`).join('')}</disks></domaincheckpoint>`;
}

/** What `qemu-img info` says of a disk: whether it can keep a persistent bitmap, and the bitmaps stored in it. */
interface DiskBitmaps {
  /** qcow2 version 3 (compat 1.1): raw and qcow2 v2 cannot. */
  keeps: boolean;
  /** Names of the bitmaps in the image (QEMU stores its bitmaps there when it closes the image). */
  bitmaps: string[];
}

/** `qemu-img info` of a file (undefined when it fails). */
const qemuImgInfo = (file: string) => runTool('qemu-img', ['info', '--force-share', '--output=json', file]).catch(() => undefined);

async function diskBitmaps(uri: string, d: LibvirtDiskDefinition, prefetched?: ReturnType<typeof qemuImgInfo>): Promise<DiskBitmaps> {
  if (d.format !== 'qcow2') return { keeps: false, bitmaps: [] };
  if (!isLocalUri(uri) || d.sourceType !== 'file') return { keeps: true, bitmaps: [] }; // libvirt refuses the checkpoint if not
  const r = await (prefetched ?? qemuImgInfo(d.path!));
  if (!r || r.code !== 0) return { keeps: true, bitmaps: [] };
  const data = (JSON.parse(r.stdout) as { 'format-specific'?: { data?: { compat?: string; bitmaps?: Array<{ name?: string }> } } })['format-specific']?.data;
  return { keeps: data?.compat !== '0.10', bitmaps: (data?.bitmaps ?? []).map((b) => b.name ?? '').filter(Boolean) };
}

async function domainHasBackupJob(uri: string, domain: string, opts: VirshOptions): Promise<boolean> {
  const info = await virsh(uri, ['domjobinfo', '--domain', domainUuid(domain)], opts).catch(() => '');
  return /^Operation:\s*Backup/m.test(info);
}

/** Ends the domain's backup job (a pull backup runs until it is aborted); never throws. */
async function endBackupJob(uri: string, domain: string, opts: VirshOptions, known = false): Promise<void> {
  if (known || (await domainHasBackupJob(uri, domain, opts))) await virsh(uri, ['domjobabort', '--domain', domainUuid(domain)], opts).catch(() => undefined);
}

/**
 * Removes bitmaps no checkpoint describes (`name` → the disks that hold it), in one virsh: each
 * is redefined as a checkpoint and deleted, which makes libvirt drop the bitmaps in QEMU and the
 * image. Returns the failures.
 */
async function removeStaleBitmaps(uri: string, uuid: string, stale: ReadonlyMap<string, readonly string[]>, opts: VirshOptions): Promise<string[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-cbt-stale-'));
  try {
    const commands: string[][] = [];
    let i = 0;
    for (const [name, targets] of stale) {
      const file = path.join(dir, `${i++}.xml`);
      await fs.writeFile(file, redefineXml(name, targets));
      commands.push(['checkpoint-create', '--domain', uuid, '--xmlfile', file, '--redefine'], ['checkpoint-delete', '--domain', uuid, '--checkpointname', name]);
    }
    await virshBatch(uri, commands, opts);
    return [];
  } catch (e) {
    return [`bitmaps ${[...stale.keys()].join(', ')} left by an earlier definition of the domain: ${e instanceof VirshError ? e.detail : (e as Error).message}`];
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
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
  fn: (disks: CbtDisk[], consistency: Consistency, checkpoint: string | undefined, readsDone: () => void) => Promise<T>,
  opts: CbtOptions = {},
): Promise<CbtReadResult<T> | undefined> {
  // The NBD socket is on the domain's host.
  if (!isLocalUri(uri)) return undefined;
  // One virsh for the whole backup (state, checkpoints, definition, backup-begin, the end of the
  // job): each further process would cost its start and connection again.
  const session = new VirshSession(uri, opts);
  try {
    return await changedBlocksIn(uri, domain, history, fn, { ...opts, session });
  } finally {
    await session.close();
  }
}

async function changedBlocksIn<T>(
  uri: string,
  domain: string,
  history: CbtHistory,
  fn: (disks: CbtDisk[], consistency: Consistency, checkpoint: string | undefined, readsDone: () => void) => Promise<T>,
  opts: CbtOptions,
): Promise<CbtReadResult<T> | undefined> {
  const uuid = domainUuid(domain);
  const steps = opts.steps ?? new StepLog();
  // The images the catalog knows are asked while virsh connects (a disk the definition names otherwise is asked after).
  const infoAt = steps.now();
  const prefetched = new Map((opts.diskPaths ?? []).map((p) => [p, qemuImgInfo(p)] as const));
  void Promise.all(prefetched.values()).then(() => steps.add('qemu-img info (while virsh connects)', infoAt));
  // One virsh for the state, the checkpoints and the definition.
  let info: string, checkpointList: string, xml: string;
  try {
    [info = '', checkpointList = '', xml = ''] = await steps.time('virsh dominfo, checkpoint-list, dumpxml', () => virshBatch(uri, [['dominfo', '--domain', uuid], ['checkpoint-list', '--domain', uuid, '--name'], ['dumpxml', '--domain', uuid]], opts));
  } catch (e) {
    // A driver without the checkpoint API (old libvirt) or a domain gone: read the files as before (that read says why it fails).
    if (e instanceof VirshError) return undefined;
    throw e;
  }
  const state = powerStateFromDomstate(/^State:\s*(.+)$/m.exec(info)?.[1] ?? '');
  if (state !== 'running' && state !== 'paused') return undefined;
  const def = parseLibvirtDomainXml(xml);
  if (!def || def.uuid?.toLowerCase() !== uuid) return undefined;
  const take = def.disks.filter((d) => d.device === 'disk' && !d.readonly && d.path);
  if (take.length === 0 || take.some((d) => d.sourceType !== 'file' || OVERLAY_RE.test(d.path!))) return undefined;
  const skip = def.disks.filter((d) => !take.includes(d)).map((d) => d.target).filter(Boolean);
  const warnings: SnapshotWarning[] = [];

  const existing = new Set(cofferCheckpoints(checkpointList));
  const orphans = [...existing].filter((c) => !history.referenced.has(c));
  const inImage = await steps.time('qemu-img info (what is left of it)', () => Promise.all(take.map((d) => diskBitmaps(uri, d, prefetched.get(d.path!)))));
  // Bitmaps named coffer-* without a checkpoint: the domain was undefined and defined again (a
  // transient domain recreated under its name), its checkpoint metadata gone with it. QEMU would
  // keep them tracking writes for nobody; they go (redefined as checkpoints, then deleted).
  const stale = new Map<string, string[]>();
  take.forEach((d, i) => {
    for (const b of inImage[i]!.bitmaps) if (b.startsWith(CHECKPOINT_PREFIX) && !existing.has(b)) stale.set(b, [...(stale.get(b) ?? []), d.target]);
  });

  interface Planned {
    d: LibvirtDiskDefinition;
    tracked: boolean;
    parent?: { pointId: string; checkpoint: string };
    reason?: FullReadReason;
  }
  const planned: Planned[] = [];
  take.forEach((d, i) => {
    const tracked = inImage[i]!.keeps;
    if (!tracked) {
      planned.push({ d, tracked, reason: 'bitmapUnsupported' });
      return;
    }
    const cands = history.candidates(d.path!);
    const usable = cands.find((c) => c.checkpoint && existing.has(c.checkpoint));
    if (usable) planned.push({ d, tracked, parent: { pointId: usable.pointId, checkpoint: usable.checkpoint! } });
    else if (cands.length === 0) planned.push({ d, tracked, reason: orphans.length > 0 ? 'parentDeleted' : 'firstBackup' });
    else if (cands.some((c) => c.checkpoint && stale.has(c.checkpoint))) planned.push({ d, tracked, reason: 'domainRecreated' });
    else if (cands.some((c) => c.checkpoint)) planned.push({ d, tracked, reason: orphans.length > 0 ? 'parentDeleted' : 'checkpointMissing' });
    else planned.push({ d, tracked, reason: orphans.length > 0 ? 'parentDeleted' : 'noParent' });
  });
  // Checkpoints no point refers to only make QEMU track writes for nobody.
  const orphanFailures = orphans.length ? await steps.time('virsh checkpoint-delete (unused)', () => deleteCheckpoints(uri, domain, orphans, opts, existing)) : [];
  if (stale.size > 0) orphanFailures.push(...(await steps.time('virsh remove stale bitmaps', () => removeStaleBitmaps(uri, uuid, stale, opts))));
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
  /**
   * Closes the exports and ends the backup job on the domain (a pull backup runs until aborted),
   * once: as soon as fn says every byte is read, so it runs while the vault commits, or at the end.
   * Cleanup ignores the abort signal: a cancelled backup must still end the job on the domain.
   */
  let released: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (released ??= (async () => {
      for (const x of exports) await steps.time('NBD close', () => x.close().catch(() => undefined));
      if (begun) await steps.time('virsh domjobabort', () => endBackupJob(uri, domain, { ...opts, signal: undefined }, true));
    })());
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
      await steps.time('virsh backup-begin', () => virsh(uri, args, opts));
      begun = true;
    };
    // The consistency of the point is as for a live snapshot: the guest agent freezes the
    // filesystems for the instant the backup and its checkpoint are created.
    let frozen = false;
    if (def.guestAgent !== 'absent' && def.guestAgent !== 'disconnected') {
      try {
        await steps.time('guest agent freeze', () => freezeFilesystems(uri, domain, opts));
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
      if (frozen) await steps.time('guest agent thaw', () => thawFilesystems(uri, domain, { ...opts, signal: undefined }).catch(() => undefined));
    }
    const disks: CbtDisk[] = [];
    /** The NBD reads: first call, last answer, calls, and the sum of their times (over the span: the mean in flight). */
    const reads = { from: -1, to: 0, calls: 0, busy: 0 };
    for (const p of planned) {
      const nbd = await steps.time('NBD connect', () => openNbdExport(socket, p.d.target));
      exports.push(nbd);
      const disk: CbtDisk = {
        target: p.d.target,
        path: p.d.path!,
        format: p.d.format ?? 'raw',
        size: nbd.size,
        tracked: p.tracked,
        readRange: async (offset, length, into) => {
          const at = steps.now();
          if (reads.from < 0) reads.from = at;
          reads.calls++;
          try {
            return await nbd.read(offset, length, into);
          } finally {
            reads.to = steps.now();
            reads.busy += reads.to - at;
          }
        },
      };
      if (p.parent) disk.parentPointId = p.parent.pointId;
      else disk.fullReadReason = p.reason ?? 'firstBackup';
      disks.push(disk);
    }
    // The dirty extents of every incremental disk at once, through the NBD client (block status
    // of the export's dirty bitmap), not a process per disk.
    if (planned.some((p) => p.parent)) {
      await steps.time('NBD block status', () =>
        Promise.all(
          planned.map(async (p, i) => {
            if (p.parent) disks[i]!.changed = await nbdExtents(socket, p.d.target, `qemu:dirty-bitmap:${exportBitmap(p.d.target)}`);
          }),
        ),
      );
    }
    const value = await steps.time('vault backup', () => fn(disks, consistency, checkpoint, () => void release()));
    if (reads.calls > 0) {
      const bytes = exports.reduce((s, x) => s + x.bytesRead, 0);
      const span = reads.to - reads.from;
      steps.steps.push({ step: `NBD reads: ${reads.calls} calls, ${(bytes / 1048576).toFixed(1)} MiB, ${span > 0 ? (reads.busy / span).toFixed(1) : '-'} in flight`, at: Math.round(reads.from), ms: Math.round(span) });
    }
    done = true;
    return { value, consistency, warnings, checkpoint, disks, bytesRead: exports.reduce((s, x) => s + x.bytesRead, 0) };
  } finally {
    const cleanup: VirshOptions = { ...opts, signal: undefined };
    await release();
    // No point refers to the new checkpoint unless fn (the vault's backup) committed one.
    if (begun && checkpoint && !done) await deleteCheckpoints(uri, domain, [checkpoint], cleanup).catch(() => undefined);
    await steps.time('scratch and socket removal', async () => {
      for (const p of planned) await fs.rm(scratchOf(p.d), { force: true }).catch(() => undefined);
      await fs.rm(work, { recursive: true, force: true });
    });
  }
}
