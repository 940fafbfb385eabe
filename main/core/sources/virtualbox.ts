import { access } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { runTool, ToolMissingError, firstErrorLine } from './exec.js';
import { describeDisk } from './formats/disk-chain.js';
import { vmFromVboxFile } from './formats/vbox.js';
import type { DiscoveredVm, DiskRef, PowerState, SourceStatus, VmProvider } from './types.js';

/** VirtualBox through `VBoxManage list vms` and `VBoxManage showvminfo UUID --machinereadable`. */

export const VBOXMANAGE_MISSING = 'VBoxManage not found on PATH: install VirtualBox to back up its VMs';

/** `VBoxManage list vms`: `"name" {uuid}` per line. Names may contain quotes, so the uuid is matched from the end. */
export function parseVboxList(text: string): { name: string; uuid: string }[] {
  const out: { name: string; uuid: string }[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^"(.*)"\s+\{([0-9a-fA-F-]{36})\}\s*$/.exec(line.trim());
    if (m) out.push({ name: m[1]!, uuid: m[2]!.toLowerCase() });
  }
  return out;
}

/** `--machinereadable` output: `key="value"` or `"key"="value"` or `key=number`; values escape \" and \\. */
export function parseMachineReadable(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const unquote = (s: string) => (s.startsWith('"') && s.endsWith('"') && s.length >= 2 ? s.slice(1, -1).replace(/\\(["\\])/g, '$1') : s);
  for (const line of text.split(/\r?\n/)) {
    const m = /^("(?:[^"\\]|\\.)*"|[^=\s]+)=(.*)$/.exec(line);
    if (!m) continue;
    out.set(unquote(m[1]!), unquote(m[2]!.trim()));
  }
  return out;
}

export function powerStateFromVboxState(s: string | undefined): PowerState {
  switch ((s ?? '').toLowerCase()) {
    case 'running':
    case 'starting':
    case 'stopping':
    case 'saving':
    case 'restoring':
    case 'teleporting':
    case 'livesnapshotting':
    case 'onlinesnapshotting':
      return 'running';
    case 'paused':
    case 'stuck':
      return 'paused';
    case 'saved':
    case 'aborted-saved':
      return 'saved';
    case 'poweroff':
    case 'aborted':
      return 'off';
    default:
      return 'unknown';
  }
}

export interface VboxVmInfo {
  name: string;
  uuid: string;
  state: PowerState;
  cfgFile?: string;
  /** First VM group without the leading slash; undefined for the default group "/". */
  group?: string;
  /** Attached hard disks: controller-port-device → image path. */
  drives: { slot: string; path: string }[];
}

export function parseShowVmInfo(text: string): VboxVmInfo {
  const kv = parseMachineReadable(text);
  const drives: VboxVmInfo['drives'] = [];
  for (const [k, v] of kv) {
    const m = /^(.+)-(\d+)-(\d+)$/.exec(k);
    if (!m || /-(ImageUUID|IsEjected|tempeject|nonrotational|discard|hot-pluggable)-\d+-\d+$/i.test(k)) continue;
    // Only storage controllers have "<controller>-<port>-<device>" keys; DVD slots also have an IsEjected key.
    if (v === 'none' || v === 'emptydrive' || kv.has(`${m[1]}-IsEjected-${m[2]}-${m[3]}`) || /\.iso$/i.test(v)) continue;
    if (!kv.has(`${m[1]}-ImageUUID-${m[2]}-${m[3]}`)) continue;
    drives.push({ slot: k, path: v });
  }
  const info: VboxVmInfo = {
    name: kv.get('name') ?? '',
    uuid: (kv.get('UUID') ?? '').toLowerCase(),
    state: powerStateFromVboxState(kv.get('VMState')),
    drives,
  };
  const cfg = kv.get('CfgFile');
  if (cfg) info.cfgFile = cfg;
  const group = (kv.get('groups') ?? '/').split(',')[0]!.replace(/^\//, '');
  if (group) info.group = group;
  return info;
}

export interface VirtualBoxProviderOptions {
  vboxmanage?: string;
  /** Cloud service for VMs in the default group (default: this host's name). */
  cloudServiceLabel?: string;
  timeoutMs?: number;
}

export class VirtualBoxProvider implements VmProvider {
  private readonly tool: string;
  constructor(private readonly opts: VirtualBoxProviderOptions = {}) {
    this.tool = opts.vboxmanage ?? 'VBoxManage';
  }

  private run(args: string[], signal?: AbortSignal) {
    return runTool(this.tool, args, { timeoutMs: this.opts.timeoutMs ?? 60_000, ...(signal ? { signal } : {}) });
  }

  async status(): Promise<SourceStatus> {
    try {
      const r = await this.run(['--version']);
      if (r.code !== 0) return { state: 'unreachable', message: `VBoxManage does not answer: ${firstErrorLine(r)}` };
      return { state: 'reachable', message: `VirtualBox ${r.stdout.trim()}` };
    } catch (e) {
      if (e instanceof ToolMissingError) return { state: 'tool-missing', message: VBOXMANAGE_MISSING };
      return { state: 'unreachable', message: (e as Error).message };
    }
  }

  async list(signal?: AbortSignal): Promise<DiscoveredVm[]> {
    let listing;
    try {
      listing = await this.run(['list', 'vms'], signal);
    } catch (e) {
      if (e instanceof ToolMissingError) return [];
      throw e;
    }
    if (listing.code !== 0) throw new Error(`VBoxManage list vms failed: ${firstErrorLine(listing)}`);
    const out: DiscoveredVm[] = [];
    for (const { uuid, name } of parseVboxList(listing.stdout)) {
      signal?.throwIfAborted();
      const r = await this.run(['showvminfo', uuid, '--machinereadable'], signal);
      if (r.code !== 0) {
        // Inaccessible VMs (moved .vbox) are still listed, so the admin sees why they cannot be backed up.
        out.push({ stableId: uuid, name, cloudService: this.cloudService(), powerState: 'unknown', kind: 'virtualbox', disks: [], problems: [firstErrorLine(r)] });
        continue;
      }
      out.push(await this.vmFromInfo(parseShowVmInfo(r.stdout), uuid, name));
    }
    return out;
  }

  private cloudService(group?: string): string {
    return group ?? this.opts.cloudServiceLabel ?? hostname();
  }

  /** The .vbox gives the whole differencing chain; showvminfo only the attached tips. */
  async vmFromInfo(info: VboxVmInfo, uuid: string, name: string): Promise<DiscoveredVm> {
    const cloudService = this.cloudService(info.group);
    if (info.cfgFile && (await access(info.cfgFile).then(() => true, () => false))) {
      const vm = await vmFromVboxFile(info.cfgFile, { cloudService }).catch(() => undefined);
      if (vm) return { ...vm, stableId: uuid, name: info.name || name, powerState: info.state };
    }
    const problems: string[] = [];
    const walk = { seen: new Set<string>(), problems };
    const disks: DiskRef[] = [];
    for (const d of info.drives) disks.push(...(await describeDisk(path.basename(d.path), d.path, 'disk', walk)));
    const vm: DiscoveredVm = { stableId: uuid, name: info.name || name, cloudService, powerState: info.state, kind: 'virtualbox', disks, problems };
    if (info.cfgFile) vm.definitionPath = info.cfgFile;
    return vm;
  }
}
