import path from 'node:path';
import { CofferError } from '../errors.js';
import { runTool, ToolMissingError, type ToolResult } from './exec.js';
import { describeDisk } from './formats/disk-chain.js';
import { formatFromExtension } from './formats/disk-image.js';
import { parseLibvirtDomainXml, type LibvirtDomainDefinition } from './formats/libvirt-xml.js';
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
