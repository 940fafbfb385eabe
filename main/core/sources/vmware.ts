import { access, readFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import { firstErrorLine, runTool, ToolMissingError } from './exec.js';
import { parseVmx, vmFromVmxFile } from './formats/vmx.js';
import type { DiscoveredVm, SourceStatus, VmProvider } from './types.js';

/** VMware Workstation/Fusion through `vmrun list` (running VMs) plus the inventory of known VMs. */

export const VMRUN_MISSING = 'vmrun not found on PATH: install VMware Workstation (or Fusion) to back up its VMs';

/** `vmrun list`: "Total running VMs: N" and then one .vmx path per line. */
export function parseVmrunList(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (!/^Total running VMs:\s*\d+/i.test(lines[0] ?? '')) throw new Error(`unexpected vmrun list output: ${lines[0] ?? '(empty)'}`);
  return lines.slice(1);
}

/** Workstation's inventory.vmls (same syntax as a .vmx): the .vmx of every VM in the library, running or not. */
export function parseVmwareInventory(text: string): string[] {
  const entries = parseVmx(text).entries;
  const out: string[] = [];
  for (const [k, v] of entries) if (/^vmlist\d+\.config$/.test(k) && v.toLowerCase().endsWith('.vmx')) out.push(v);
  return out;
}

export function defaultInventoryPath(): string {
  return process.platform === 'win32'
    ? path.join(process.env.APPDATA ?? path.join(homedir(), 'AppData', 'Roaming'), 'VMware', 'inventory.vmls')
    : path.join(homedir(), '.vmware', 'inventory.vmls');
}

export interface VmwareProviderOptions {
  vmrun?: string;
  /** inventory.vmls; VMs that are off are only known from it. */
  inventoryPath?: string;
  cloudServiceLabel?: string;
  timeoutMs?: number;
}

export class VmwareProvider implements VmProvider {
  private readonly tool: string;
  constructor(private readonly opts: VmwareProviderOptions = {}) {
    this.tool = opts.vmrun ?? 'vmrun';
  }

  async status(): Promise<SourceStatus> {
    try {
      const r = await runTool(this.tool, ['list'], { timeoutMs: this.opts.timeoutMs ?? 30_000 });
      if (r.code !== 0) return { state: 'unreachable', message: `vmrun list failed: ${firstErrorLine(r)}` };
      return { state: 'reachable', message: `VMware: ${r.stdout.split('\n')[0]?.trim() ?? ''}` };
    } catch (e) {
      if (e instanceof ToolMissingError) return { state: 'tool-missing', message: VMRUN_MISSING };
      return { state: 'unreachable', message: (e as Error).message };
    }
  }

  async list(signal?: AbortSignal): Promise<DiscoveredVm[]> {
    let r;
    try {
      r = await runTool(this.tool, ['list'], { timeoutMs: this.opts.timeoutMs ?? 30_000, ...(signal ? { signal } : {}) });
    } catch (e) {
      if (e instanceof ToolMissingError) return [];
      throw e;
    }
    if (r.code !== 0) throw new Error(`vmrun list failed: ${firstErrorLine(r)}`);
    const running = new Set(parseVmrunList(r.stdout));
    const inventory = await readFile(this.opts.inventoryPath ?? defaultInventoryPath(), 'utf8').then(parseVmwareInventory, () => [] as string[]);
    const cloudService = this.opts.cloudServiceLabel ?? hostname();
    const out: DiscoveredVm[] = [];
    for (const vmx of [...new Set([...running, ...inventory])]) {
      signal?.throwIfAborted();
      if (!(await access(vmx).then(() => true, () => false))) {
        out.push({ stableId: vmx, name: path.basename(vmx, '.vmx'), cloudService, powerState: 'unknown', kind: 'vmware', definitionPath: vmx, disks: [], problems: [`${vmx} cannot be read`] });
        continue;
      }
      const vm = await vmFromVmxFile(vmx, { cloudService, fallbackId: vmx });
      // vmrun knows better than the lock file whether the VM runs.
      if (running.has(vmx)) vm.powerState = 'running';
      else if (vm.powerState === 'running') vm.powerState = 'unknown';
      out.push(vm);
    }
    return out;
  }
}
