import * as os from 'node:os';
import * as path from 'node:path';
import { openCatalog, type Db } from './catalog/catalog.js';
import { EngineEvents, type EngineListener } from './events.js';
import { InventoryService } from './inventory.js';
import { JobService } from './jobs.js';
import { ProtectionService } from './protection/service.js';
import { dashboardData } from './dashboard.js';
import { Scheduler } from './scheduler.js';
import type { Dashboard, ProtectedItem } from '../../preload/contract.js';
import { VaultService, type SecretStore } from './vaults.js';
import type { LoadedDeployment } from './deployment.js';
import { defaultPowerRules, deferral, type PowerSource } from './power.js';
import type { DeferReason } from '../../preload/contract.js';

export const COFFER_VERSION = '0.1.0';

/** Where the catalog lives unless `--data-dir` or COFFER_DATA_DIR say otherwise. */
export function defaultDataDir(): string {
  const fromEnv = process.env.COFFER_DATA_DIR;
  if (fromEnv) return path.resolve(fromEnv);
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? os.homedir(), 'Coffer');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'Coffer');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'coffer');
}

export interface EngineOptions {
  dataDir: string;
  /** The desktop app's keychain for remembered passphrases; headless hosts use key files. */
  secrets?: SecretStore;
  /** What only the desktop window can do (native dialogs). */
  desktop?: DesktopServices;
}

export interface DesktopServices {
  pickFolder(opts: { title?: string | undefined; defaultPath?: string | undefined }): Promise<string | null>;
}

/** One Coffer engine: the catalog and the services on it. Every face drives it through main/rpc. */
export class Engine {
  readonly events = new EngineEvents();
  readonly vaults: VaultService;
  readonly jobs: JobService;
  readonly inventory: InventoryService;
  readonly protection: ProtectionService;
  /** The machine's deployment file, set by the host that applied it at start (main/core/deployment.ts). */
  deployment: LoadedDeployment | null = null;
  /** The machine's power (laptop-aware schedules), set by the host: Electron's powerMonitor, or /sys/class/power_supply. */
  power: PowerSource | null = null;

  private constructor(
    readonly dataDir: string,
    readonly db: Db,
    secrets?: SecretStore,
    readonly desktop?: DesktopServices,
  ) {
    this.vaults = new VaultService(db, this.events, secrets, path.join(dataDir, 'cache'));
    this.jobs = new JobService(db, this.events);
    this.inventory = new InventoryService(db, this.events, this.jobs, this.vaults);
    this.protection = new ProtectionService(db, this.events, this.jobs, this.vaults, this.inventory, path.join(dataDir, 'restore-tests'));
  }

  static open(opts: EngineOptions): Engine {
    const dataDir = path.resolve(opts.dataDir);
    return new Engine(dataDir, openCatalog(dataDir), opts.secrets, opts.desktop);
  }

  /** VM ids a user's reference matches: an id, a name, or `cloudservice/name` (every match). */
  vmIdsMatching(ref: string): string[] {
    return this.inventory.matching(ref).map((vm) => vm.id);
  }

  /** Runs scheduled backups until the returned function is called (hosts only: desktop app, serve). */
  startScheduler(clock?: () => Date, intervalMs?: number): () => void {
    return new Scheduler(this.db, this.protection, clock, (remote) => this.deferral(remote)).start(intervalMs);
  }

  /** Why a scheduled backup into a vault (remote: object storage) waits now, under the deployment's power rules. */
  deferral(vaultRemote: boolean): DeferReason | null {
    return deferral(this.power?.read() ?? null, vaultRemote, this.deployment?.config.power ?? defaultPowerRules);
  }

  dashboard(now = new Date()): Dashboard {
    return dashboardData(this.db, this.vaults, this.protection.timeZone, now, (remote) => this.deferral(remote));
  }

  /** Protected Items of a vault: its VMs with a protection state, with policy, last/next backup and the job running now. */
  protectedItems(vault: string, now = new Date()): ProtectedItem[] {
    const info = new Map(this.dashboard(now).vms.map((v) => [v.id, v]));
    return this.inventory
      .listVms({ vault, registered: true })
      .filter((vm) => vm.protectionState !== null)
      .map((vm) => {
        const i = info.get(vm.id);
        // The job running on the VM now (one at a time; a ConfigureProtection beside it gives way).
        const active = this.jobs.activeForVm(vm.id);
        const activeJob = active.find((j) => j.operation !== 'ConfigureProtection') ?? active[0] ?? null;
        return { ...vm, policy: i?.policy ?? null, lastBackupAt: i?.lastBackupAt ?? null, lastBackupStatus: i?.lastBackupStatus ?? null, nextBackupAt: i?.nextBackupAt ?? null, activeJob };
      });
  }

  subscribe(listener: EngineListener): () => void {
    return this.events.subscribe(listener);
  }

  async close(): Promise<void> {
    await this.jobs.drain();
    await this.vaults.closeHandles();
    if (this.db.open) this.db.close();
  }
}
