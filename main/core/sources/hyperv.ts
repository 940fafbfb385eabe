import { hostname } from 'node:os';
import { firstErrorLine, runTool, ToolMissingError } from './exec.js';
import { formatFromExtension } from './formats/disk-image.js';
import type { DiscoveredVm, DiskRef, PowerState, SourceStatus, VmProvider } from './types.js';

/**
 * Hyper-V through PowerShell's Hyper-V module. The scripts are constants: no VM name is ever
 * spliced into a command line, so a name cannot inject PowerShell.
 */

export const HYPERV_MISSING = 'PowerShell with the Hyper-V module not found: Hyper-V sources work on Windows with the Hyper-V feature enabled';

export const GET_VMS_SCRIPT =
  "Get-VM | Select-Object Name,@{n='Id';e={$_.Id.ToString()}},@{n='State';e={$_.State.ToString()}},Path | ConvertTo-Json -Depth 2";

// Get-VHD's ParentPath walks checkpoints (.avhdx) down to the base disk.
export const GET_DISKS_SCRIPT = [
  'Get-VM | Get-VMHardDiskDrive | ForEach-Object {',
  '  $chain = @(); $p = $_.Path',
  '  while ($p -and $chain.Count -lt 64) { $v = Get-VHD -Path $p -ErrorAction SilentlyContinue; if (-not $v -or -not $v.ParentPath) { break }; $p = $v.ParentPath; $chain += $p }',
  "  [pscustomobject]@{ VMId = $_.VMId.ToString(); VMName = $_.VMName; ControllerType = $_.ControllerType.ToString(); ControllerNumber = $_.ControllerNumber; ControllerLocation = $_.ControllerLocation; Path = $_.Path; ParentChain = $chain }",
  '} | ConvertTo-Json -Depth 3',
].join('\n');

export interface HyperVVm {
  name: string;
  id: string;
  state: PowerState;
  path?: string;
}

export interface HyperVDisk {
  vmId: string;
  vmName: string;
  slot: string;
  path: string;
  parentChain: string[];
}

/** ConvertTo-Json gives an object for one item, an array for several and nothing for none. */
function jsonList(text: string): Record<string, unknown>[] {
  const t = text.replace(/^\uFEFF/, '').trim();
  if (!t) return [];
  const v = JSON.parse(t) as unknown;
  return (Array.isArray(v) ? v : [v]).filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null);
}

const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/** VMState as a name ("Running", "Off") or, from a plain ConvertTo-Json, as its number. */
export function powerStateFromHyperV(s: unknown): PowerState {
  const byNumber: Record<number, string> = { 2: 'Running', 3: 'Off', 6: 'Saved', 9: 'Paused', 4: 'Stopping', 10: 'Starting', 11: 'Reset', 32773: 'Saving', 32774: 'Stopping', 32776: 'Pausing', 32777: 'Resuming' };
  const name = (typeof s === 'number' ? byNumber[s] ?? '' : String(s ?? '')).toLowerCase().replace(/critical$/, '');
  if (['running', 'starting', 'stopping', 'saving', 'pausing', 'resuming', 'reset'].includes(name)) return 'running';
  if (name === 'off') return 'off';
  if (name === 'saved') return 'saved';
  if (name === 'paused') return 'paused';
  return 'unknown';
}

export function parseHyperVVms(json: string): HyperVVm[] {
  return jsonList(json).flatMap((o) => {
    const id = str(o['Id'])?.toLowerCase();
    const name = str(o['Name']);
    if (!id || !name) return [];
    const vm: HyperVVm = { name, id, state: powerStateFromHyperV(o['State']) };
    const p = str(o['Path']);
    if (p) vm.path = p;
    return [vm];
  });
}

export function parseHyperVDisks(json: string): HyperVDisk[] {
  return jsonList(json).flatMap((o) => {
    const vmId = str(o['VMId'])?.toLowerCase();
    const p = str(o['Path']);
    if (!vmId || !p) return [];
    const ct = o['ControllerType'];
    const type = typeof ct === 'number' ? (ct === 0 ? 'IDE' : 'SCSI') : str(ct) ?? 'Disk';
    const chain = o['ParentChain'];
    return [{
      vmId,
      vmName: str(o['VMName']) ?? '',
      slot: `${type}-${str(o['ControllerNumber']) ?? '0'}-${str(o['ControllerLocation']) ?? '0'}`,
      path: p,
      parentChain: (Array.isArray(chain) ? chain : typeof chain === 'string' ? [chain] : []).filter((x): x is string => typeof x === 'string'),
    }];
  });
}

/** Combines both listings. Hyper-V runs on the machine Coffer runs on, so files are checked by the caller if needed. */
export function hyperVToDiscovered(vms: HyperVVm[], disks: HyperVDisk[], cloudService: string): DiscoveredVm[] {
  return vms.map((vm) => {
    const refs: DiskRef[] = [];
    for (const d of disks.filter((x) => x.vmId === vm.id)) {
      refs.push({ name: d.slot, path: d.path, format: formatFromExtension(d.path), exists: true, role: 'disk' });
      for (const parent of d.parentChain) {
        refs.push({ name: parent.split(/[\\/]/).pop() ?? parent, path: parent, format: formatFromExtension(parent), exists: true, role: 'backing' });
      }
    }
    const out: DiscoveredVm = { stableId: vm.id, name: vm.name, cloudService, powerState: vm.state, kind: 'hyperv', disks: refs, problems: [] };
    if (vm.path) out.definitionPath = vm.path;
    return out;
  });
}

export interface HyperVProviderOptions {
  /** Default: powershell.exe on Windows. */
  powershell?: string;
  cloudServiceLabel?: string;
  timeoutMs?: number;
}

export class HyperVProvider implements VmProvider {
  constructor(private readonly opts: HyperVProviderOptions = {}) {}

  private async ps(script: string, signal?: AbortSignal) {
    const exe = this.opts.powershell ?? (process.platform === 'win32' ? 'powershell.exe' : undefined);
    if (!exe) throw new ToolMissingError('powershell.exe');
    const r = await runTool(exe, ['-NoProfile', '-NonInteractive', '-Command', script], { timeoutMs: this.opts.timeoutMs ?? 120_000, ...(signal ? { signal } : {}) });
    if (r.code !== 0) throw new Error(`PowerShell failed: ${firstErrorLine(r)}`);
    return r.stdout;
  }

  async status(): Promise<SourceStatus> {
    try {
      await this.ps('Get-Command Get-VM -ErrorAction Stop | Out-Null; (Get-VMHost).ComputerName');
      return { state: 'reachable', message: 'Hyper-V' };
    } catch (e) {
      if (e instanceof ToolMissingError) return { state: 'tool-missing', message: HYPERV_MISSING };
      const msg = (e as Error).message;
      if (/Get-VM/i.test(msg) && /not recognized|CommandNotFound/i.test(msg)) return { state: 'tool-missing', message: HYPERV_MISSING };
      return { state: 'unreachable', message: msg };
    }
  }

  async list(signal?: AbortSignal): Promise<DiscoveredVm[]> {
    try {
      const vms = parseHyperVVms(await this.ps(GET_VMS_SCRIPT, signal));
      const disks = parseHyperVDisks(await this.ps(GET_DISKS_SCRIPT, signal));
      return hyperVToDiscovered(vms, disks, this.opts.cloudServiceLabel ?? hostname());
    } catch (e) {
      if (e instanceof ToolMissingError) return [];
      throw e;
    }
  }
}
