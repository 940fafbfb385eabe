import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorCode } from '../../../preload/errors.js';
import { CofferError } from '../errors.js';
import { runTool, ToolMissingError, type ToolResult } from './exec.js';
import { describeDisk } from './formats/disk-chain.js';
import { formatFromExtension } from './formats/disk-image.js';
import { parseLibvirtDomainXml, type LibvirtDiskDefinition, type LibvirtDomainDefinition } from './formats/libvirt-xml.js';
import { checkLibvirtUri } from './libvirt-uri.js';
import type { DiscoveredVm, DiskRef, PowerState, SourceStatus, VmProvider } from './types.js';

/*
 * libvirt through the real `virsh` (any URI). Domains are always named with `--domain X` so a name
 * that starts with "--" cannot turn into an option; virsh gets an argument array, never a shell line.
 * Domains are addressed by UUID only: virsh tries an argument as an id, then a UUID, then a name,
 * so a domain named "3", or named like another domain's UUID, would be taken for another domain.
 */

export interface VirshOptions {
  /** Per-call timeout; block commits get their own, longer one. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The virsh binary (tests and unusual installs). */
  virsh?: string;
}

/** A virsh command that ran and failed; `detail` is virsh's own error text. */
export class VirshError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly detail: string,
  ) {
    super(`virsh ${args.join(' ')} failed: ${detail}`);
    this.name = 'VirshError';
  }
}

/** virsh prints "error: failed to connect to the hypervisor" and then the reason: keep all error lines. */
export function virshErrorText(r: ToolResult): string {
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const errs = lines.filter((l) => l.startsWith('error:')).map((l) => l.replace(/^error:\s*/, ''));
  return (errs.length ? errs : lines).join('; ') || `exit code ${r.code}`;
}

export async function virsh(uri: string, args: readonly string[], opts: VirshOptions = {}): Promise<string> {
  // Every call, not only adding a source: a catalog row from an older Coffer may hold any URI.
  checkLibvirtUri(uri);
  const full = ['-c', uri, ...args];
  const r = await runTool(opts.virsh ?? 'virsh', full, { timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (r.code !== 0) throw new VirshError(args, virshErrorText(r));
  return r.stdout;
}

/** The cloud service of a libvirt source: the URI's host (qemu:///system → localhost, test:///… → test). */
export function cloudServiceFromUri(uri: string): string {
  const scheme = /^([a-z0-9]+)(?:\+[a-z0-9]+)?:/i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'test') return 'test';
  try {
    const host = new URL(uri).hostname;
    return host ? host.replace(/^\[|\]$/g, '') : 'localhost';
  } catch {
    return 'localhost';
  }
}

/** Disk paths of a local URI can be checked here; those of a remote host only through virsh. */
export function isLocalUri(uri: string): boolean {
  const h = cloudServiceFromUri(uri);
  return h === 'localhost' || h === 'test' || h === '127.0.0.1' || h === '::1';
}

/** `virsh domstate` text → our power state. */
export function powerStateFromDomstate(text: string): PowerState {
  const s = text.trim().split('\n')[0]!.trim().toLowerCase();
  if (s.startsWith('running') || s.startsWith('idle') || s.startsWith('blocked') || s.startsWith('in shutdown')) return 'running';
  if (s.startsWith('paused') || s.startsWith('pmsuspended')) return 'paused';
  if (s.startsWith('shut off') || s.startsWith('crashed')) return 'off';
  return 'unknown';
}

/** `virsh domblklist --details` → target and source per disk ("-" for an empty drive). */
export function parseDomblklist(text: string): { type: string; device: string; target: string; source: string }[] {
  const out: { type: string; device: string; target: string; source: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+(\S+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (!m || m[1] === 'Type' || /^-+$/.test(m[1]!)) continue;
    out.push({ type: m[1]!, device: m[2]!, target: m[3]!, source: m[4]! });
  }
  return out;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The domain argument for virsh: a UUID, never a name or id (see the top of this file). */
export function domainUuid(domain: string): string {
  if (!UUID_RE.test(domain)) {
    throw new CofferError('InvalidArgument', `libvirt domains are addressed by UUID, not by name or id: ${JSON.stringify(domain)}.`, { domain });
  }
  return domain.toLowerCase();
}

/**
 * virsh falls back to a name when no domain has the UUID: one named like it is not this VM. Each
 * call that reads what virsh found (dominfo, dumpxml) checks the UUID it got back.
 */
function checkFound(uri: string, wanted: string, got: string | undefined): void {
  if (got?.toLowerCase() !== wanted) {
    throw new CofferError('VmNotFound', `No libvirt domain with UUID ${wanted} on ${uri}${got ? ` (virsh answered with domain ${got}, which is named like it)` : ''}.`, { uuid: wanted });
  }
}

/** `virsh domblklist` of a domain (by UUID). */
export async function domblklist(uri: string, domain: string, opts: VirshOptions = {}) {
  return parseDomblklist(await virsh(uri, ['domblklist', '--domain', domainUuid(domain), '--details'], opts));
}

/** The power state, from `virsh dominfo` (one call that also names the UUID virsh found). */
export async function domainState(uri: string, domain: string, opts: VirshOptions = {}): Promise<PowerState> {
  const uuid = domainUuid(domain);
  const info = await virsh(uri, ['dominfo', '--domain', uuid], opts);
  checkFound(uri, uuid, /^UUID:\s*(\S+)/m.exec(info)?.[1]);
  return powerStateFromDomstate(/^State:\s*(.+)$/m.exec(info)?.[1] ?? '');
}

export async function domainDefinition(uri: string, domain: string, opts: VirshOptions = {}): Promise<LibvirtDomainDefinition> {
  const uuid = domainUuid(domain);
  const xml = await virsh(uri, ['dumpxml', '--domain', uuid], opts);
  const def = parseLibvirtDomainXml(xml);
  if (!def) throw new Error(`virsh dumpxml ${uuid} did not return a domain XML`);
  checkFound(uri, uuid, def.uuid);
  return def;
}

const uuidLines = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => /^[0-9a-f-]{36}$/i.test(l));

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface LibvirtProviderOptions extends VirshOptions {
  /** Shown as the cloud service instead of the URI's host. */
  cloudServiceLabel?: string;
}

async function disksOf(uri: string, domain: string, def: LibvirtDomainDefinition, problems: string[], opts: VirshOptions): Promise<DiskRef[]> {
  const refs: DiskRef[] = [];
  const local = isLocalUri(uri);
  const walk = { seen: new Set<string>(), problems };
  for (const d of def.disks.filter((x) => x.device === 'disk')) {
    if (!d.path) {
      problems.push(`disk ${d.target} has a ${d.sourceType} source; only file and block disks are backed up`);
      continue;
    }
    if (local) {
      refs.push(...(await describeDisk(d.target, d.path, 'disk', walk, d.format)));
      continue;
    }
    // Remote host: virsh can tell whether the file is there; the chain comes from libvirt's XML.
    let exists = true;
    let sizeBytes: number | undefined;
    try {
      const info = await virsh(uri, ['domblkinfo', '--domain', domainUuid(domain), '--device', d.target], opts);
      const phys = /^Physical:\s+(\d+)/m.exec(info)?.[1];
      if (phys) sizeBytes = Number(phys);
    } catch (e) {
      exists = false;
      problems.push(`disk ${d.target} cannot be read on the host: ${e instanceof VirshError ? e.detail : (e as Error).message}`);
    }
    const ref: DiskRef = { name: d.target, path: d.path, format: d.format ?? formatFromExtension(d.path), exists, role: 'disk' };
    if (sizeBytes !== undefined) ref.sizeBytes = sizeBytes;
    refs.push(ref);
    for (const b of d.backingStore) {
      refs.push({ name: path.posix.basename(b.path), path: b.path, format: b.format ?? formatFromExtension(b.path), exists, role: 'backing' });
    }
  }
  return refs;
}

/** Lists the domains of one libvirt connection with their state, disks and guest agent. */
export async function listLibvirtDomains(uri: string, opts: LibvirtProviderOptions = {}): Promise<DiscoveredVm[]> {
  const cloudService = opts.cloudServiceLabel ?? cloudServiceFromUri(uri);
  // One call per state instead of one domstate per domain: a remote URI pays an ssh round trip per call.
  const states: [string, PowerState][] = [
    ['--state-running', 'running'],
    ['--state-paused', 'paused'],
    ['--state-shutoff', 'off'],
    ['--state-other', 'unknown'],
  ];
  const stateOf = new Map<string, PowerState>();
  for (const [flag, st] of states) {
    for (const u of uuidLines(await virsh(uri, ['list', '--all', '--uuid', flag], opts))) stateOf.set(u.toLowerCase(), st);
  }
  for (const u of uuidLines(await virsh(uri, ['list', '--all', '--uuid', '--with-managed-save'], opts))) stateOf.set(u.toLowerCase(), 'saved');
  const all = uuidLines(await virsh(uri, ['list', '--all', '--uuid'], opts)).map((u) => u.toLowerCase());
  const vms = await mapLimit(all, 4, async (uuid): Promise<DiscoveredVm | undefined> => {
    opts.signal?.throwIfAborted();
    let def: LibvirtDomainDefinition;
    try {
      def = await domainDefinition(uri, uuid, opts);
    } catch (e) {
      // Undefined between list and dumpxml (a transient domain stopped): it no longer exists.
      if (e instanceof VirshError && /not found|no domain/i.test(e.detail)) return undefined;
      if (e instanceof CofferError && e.code === 'VmNotFound') return undefined;
      throw e;
    }
    const problems: string[] = [];
    const disks = await disksOf(uri, uuid, def, problems, opts);
    return {
      stableId: def.uuid ?? uuid,
      name: def.name,
      cloudService,
      powerState: stateOf.get(uuid) ?? 'unknown',
      kind: 'libvirt',
      disks,
      guestAgent: def.guestAgent === 'connected' || def.guestAgent === 'configured',
      problems,
    };
  });
  return vms.filter((v): v is DiscoveredVm => v !== undefined).sort((a, b) => a.name.localeCompare(b.name));
}

export class LibvirtProvider implements VmProvider {
  constructor(
    readonly uri: string,
    private readonly opts: LibvirtProviderOptions = {},
  ) {}

  async status(): Promise<SourceStatus> {
    try {
      const out = await virsh(this.uri, ['version'], { ...this.opts, timeoutMs: this.opts.timeoutMs ?? 30_000 });
      const hv = /Running hypervisor:\s*(.+)/.exec(out)?.[1]?.trim();
      return { state: 'reachable', message: `libvirt ${this.uri}${hv ? ` (${hv})` : ''}` };
    } catch (e) {
      if (e instanceof ToolMissingError) {
        return { state: 'tool-missing', message: 'virsh not found on PATH: install libvirt-clients (Debian/Ubuntu) or libvirt-client to use libvirt sources' };
      }
      const why = e instanceof VirshError ? e.detail : (e as Error).message;
      return { state: 'unreachable', message: `cannot connect to ${this.uri}: ${why}` };
    }
  }

  async list(signal?: AbortSignal): Promise<DiscoveredVm[]> {
    try {
      return await listLibvirtDomains(this.uri, { ...this.opts, ...(signal ? { signal } : {}) });
    } catch (e) {
      if (e instanceof ToolMissingError) return [];
      throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Live backup (W16): freeze, external disk-only snapshot, read the frozen base, commit back.

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
  message: string;
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
    warnings.push({ code: 'Interrupted', message: `committed overlays left by an interrupted backup: ${leftovers.map((d) => d.source).join(', ')}` });
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
    warnings.push({ code: 'GuestAgentUnavailable', message: `${domain}: no quiesced snapshot (${why}); the backup is crash-consistent` });
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
