import { spawn, type ChildProcess } from 'node:child_process';
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
 * that starts with "--" cannot turn into an option; virsh gets an argument array, never a shell line
 * (a VirshSession quotes each argument for virsh's own parser, as virsh's batch mode reads it).
 * Domains are addressed by UUID only: virsh tries an argument as an id, then a UUID, then a name,
 * so a domain named "3", or named like another domain's UUID, would be taken for another domain.
 */

export interface VirshOptions {
  /** Per-call timeout; block commits get their own, longer one. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The virsh binary (tests and unusual installs). */
  virsh?: string;
  /** Run the commands in this running virsh (same URI) instead of a process each. */
  session?: VirshSession;
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
  if (opts.session) return opts.session.run(args, { signal: opts.signal });
  const full = ['-c', uri, ...args];
  const r = await runTool(opts.virsh ?? 'virsh', full, { timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (r.code !== 0) throw new VirshError(args, virshErrorText(r));
  return r.stdout;
}

/** A virsh argument as virsh's own command parser (and the shell) reads it back. */
export const virshQuote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * One interactive virsh for a job's commands, one after another: a virsh takes 0.5-1 s to start
 * and connect on a busy host, a command in a running session is one call to libvirtd (10-30 ms).
 * stderr is merged into stdout (through `sh -c 'exec virsh … 2>&1'`), so a command's errors come
 * before the `echo` mark that ends it; a command with an `error:` line throws VirshError as
 * `virsh()` does. A session that died (killed, timed out, virsh gone) runs each later command as
 * its own `virsh()`, so cleanup still works.
 */
export class VirshSession {
  private readonly child: ChildProcess;
  private out = '';
  private dead: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private n = 0;
  private waiter: (() => void) | undefined;
  private readonly exited: Promise<void>;

  private readonly opts: VirshOptions;

  constructor(
    private readonly uri: string,
    opts: VirshOptions = {},
  ) {
    checkLibvirtUri(uri);
    const { session: _, ...own } = opts;
    this.opts = own;
    this.child = spawn('sh', ['-c', 'exec "$0" -q -c "$1" 2>&1', opts.virsh ?? 'virsh', uri], { env: { ...process.env, LC_ALL: 'C', LANG: 'C' }, stdio: ['pipe', 'pipe', 'ignore'], windowsHide: true });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.out += d;
      this.waiter?.();
    });
    this.child.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.dead ??= e;
        this.waiter?.();
        resolve();
      });
      this.child.on('close', () => {
        this.dead ??= new Error('virsh ended');
        this.waiter?.();
        resolve();
      });
    });
  }

  /** Runs one virsh command in the session (after those already asked); its output. */
  run(args: readonly string[], opts: { signal?: AbortSignal | undefined } = {}): Promise<string> {
    const next = this.queue.then(
      () => this.one(args, opts.signal),
      () => this.one(args, opts.signal),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async one(args: readonly string[], signal: AbortSignal | undefined): Promise<string> {
    if (this.dead) return virsh(this.uri, args, { ...this.opts, signal });
    const mark = `@@coffer-virsh-${++this.n}@@`;
    const line = args.map(virshQuote).join(' ');
    this.child.stdin!.write(`${line}\necho ${mark}\n`);
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    const started = Date.now();
    // The mark as echo prints it (not the command line readline echoes back: "echo <mark>").
    const found = (): number => {
      for (let at = this.out.indexOf(mark); at >= 0; at = this.out.indexOf(mark, at + 1)) if (!this.out.slice(Math.max(0, at - 5), at).endsWith('echo ')) return at;
      return -1;
    };
    let at: number;
    while ((at = found()) < 0) {
      const gone = this.dead as Error | undefined; // set by the child's events meanwhile
      if (gone) throw new VirshError(args, gone.message);
      if (signal?.aborted || Date.now() - started > timeoutMs) {
        this.kill();
        throw signal?.aborted ? (signal.reason instanceof Error ? signal.reason : new Error('aborted')) : new VirshError(args, `no answer in ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 250);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    let text = this.out.slice(0, at);
    this.out = this.out.slice(at + mark.length);
    // What readline echoes: the prompt and the command line before, the prompt and `echo <mark>` after.
    const echoAt = text.lastIndexOf(`echo ${mark}`);
    if (echoAt >= 0) text = text.slice(0, echoAt);
    text = text.replace(/(?:virsh # )+$/, '');
    const lines = text.split('\n');
    while (lines.length && lines[0]!.replace(/^(virsh # )+/, '').trim() === '') lines.shift();
    if (lines.length && lines[0]!.replace(/^(virsh # )+/, '') === line) lines.shift();
    const errs = lines.map((l) => l.trim()).filter((l) => l.startsWith('error:'));
    if (errs.length) throw new VirshError(args, errs.map((l) => l.replace(/^error:\s*/, '')).join('; '));
    return lines.join('\n');
  }

  private kill(): void {
    this.dead ??= new Error('virsh was stopped');
    this.child.kill('SIGKILL');
  }

  /** Ends the session (`quit`), after the commands already asked. */
  async close(): Promise<void> {
    await this.queue;
    if (!this.dead) this.child.stdin!.end('quit\n');
    const t = setTimeout(() => this.kill(), 5000);
    await this.exited;
    clearTimeout(t);
  }
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
