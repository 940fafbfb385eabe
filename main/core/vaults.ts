import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BackupDataOnlyState,
  finishedStatuses,
  isActiveProtection,
  protectionStates,
  type ConnectedVault,
  type Job,
  type ParsedArgsOf,
  type PendingProtection,
  type UnlockAtStart,
  type VaultDetails,
  type VaultSummary,
} from '../../preload/contract.js';
import type { Db } from './catalog/catalog.js';
import { CofferError } from './errors.js';
import { isWeakPassphrase } from '../../preload/passphrase.js';
import type { EngineEvents } from './events.js';
import { readKeyFile } from './key-file.js';
import {
  applyVaultSnapshot,
  ensureBuiltinPolicy,
  flushWrites,
  markSynced,
  policyRecordOf,
  policyRowFor,
  protectionRecordFor,
  readVaultSnapshot,
  type ReconcileReport,
} from './vault-sync.js';
import { createVaultConfig, readVaultConfig, unlockVaultConfig, VAULT_FORMAT_VERSION, writeVaultConfig, type VaultKeys } from './vault/config.js';
import { DEFAULT_CHUNK_SIZE } from './vault/format.js';
import { deletePolicyRecordObject, deleteProtectionRecordObject, putPolicyRecord, putProtectionRecord } from './vault/records.js';
import { PROBE_PREFIX } from './vault/remote.js';
import {
  describeStore,
  formatVaultLocation,
  openStore,
  parseStoredLocation,
  parseVaultLocation,
  type OpenStoreOptions,
  type VaultLocation,
  type VaultStore,
} from './vault/stores.js';
import { Vault } from './vault/vault.js';

export { DEFAULT_POLICY_NAME } from './vault-sync.js';
export { readKeyFile } from './key-file.js';

/** The protection states whose VMs get scheduled backups (they need their vault unlocked). */
const SCHEDULED_STATES = protectionStates.filter(isActiveProtection);

interface VaultRow {
  id: string;
  name: string;
  region: string;
  location: string;
  format_version: number;
  created_at: string;
  /** Path of the admin's credentials file for an object-storage vault (never its content). */
  credentials_file: string | null;
}

/** Where the arguments of createVault and connectVault say the vault lives. */
type StorageArgs = Pick<ParsedArgsOf<'createVault'>, 'path' | 'azure' | 's3' | 'endpoint' | 's3Region' | 'credentialsFile'>;

/** The SecretStore entry holding a vault's SAS token (the passphrase entry is keyed by the bare id). */
const sasSecretKey = (vaultId: string): string => `storage-sas:${vaultId}`;

/**
 * Vaults known to this console: the catalog rows plus, for unlocked ones, their keys in memory.
 *
 * Size (over the 400-line guide): one service owns a vault's whole life in this install (create,
 * connect, unlock/lock, key files, its store and credentials, delete/disconnect) because each step
 * must keep the catalog row, the open store and the keys consistent together. What the vault holds
 * (points, policy and protection records) is reconciled in vault-sync.ts; stores and locations are
 * in vault/stores.ts. The next seam, if it grows: stores + credentials into their own module.
 */
export class VaultService {
  private readonly keys = new Map<string, VaultKeys>();
  /** Open engine handles (index in memory, worker pool) of unlocked vaults, made on first use. */
  private readonly handles = new Map<string, Promise<Vault>>();
  /** One reconcile at a time per vault; a request during one runs after it (it may miss newer points). */
  private readonly reconciling = new Map<string, Promise<ReconcileReport>>();
  /** Open stores (connected, credentials resolved, create-only probe done), one per vault id. */
  private readonly stores = new Map<string, Promise<VaultStore>>();

  constructor(
    private readonly db: Db,
    private readonly events: EngineEvents,
    private readonly secrets?: SecretStore,
    /** `<dataDir>/cache`: per vault, the index objects already fetched (never trusted over the store). */
    private readonly cacheRoot?: string,
  ) {
    // After each job of a vault the catalog follows the vault again (points another install added
    // or pruned meanwhile, records this install now is the origin of). Failures change nothing.
    events.subscribe((event, payload) => {
      if (event !== 'jobUpdated') return;
      const job = payload as Job;
      if (!job.vaultName || !finishedStatuses.includes(job.status) || !this.db.open) return;
      const row = this.db.prepare('SELECT id FROM vaults WHERE name = ?').get(job.vaultName) as { id: string } | undefined;
      if (row) void this.reconcileVault(row.id).catch(() => undefined);
    });
  }

  list(): VaultSummary[] {
    const rows = this.db.prepare('SELECT * FROM vaults ORDER BY name COLLATE NOCASE').all() as VaultRow[];
    return rows.map((r) => this.summary(r));
  }

  async show(name: string): Promise<Omit<VaultDetails, 'policies'>> {
    const row = this.row(name);
    const store = await this.storeFor(row);
    let usedBytes = 0;
    let pointCount = 0;
    for (const obj of await store.list('')) {
      usedBytes += obj.size;
      if (obj.key.startsWith('points/')) pointCount++;
    }
    const loc = parseStoredLocation(row.location);
    const storage = {
      kind: loc.kind,
      lockMode: store.conditionalCreate ? ('conditional' as const) : ('listing' as const),
      description: describeStore(loc, store.conditionalCreate),
    };
    return { ...this.summary(row), usedBytes, pointCount, storage };
  }

  async create(args: ParsedArgsOf<'createVault'>): Promise<VaultSummary> {
    if (isWeakPassphrase(args.passphrase) && args.weakPassphraseOk !== true) {
      throw new CofferError('PassphraseWeak', undefined, { field: 'passphrase' });
    }
    const loc = this.locationOf(args);
    const location = formatVaultLocation(loc);
    if (this.db.prepare('SELECT 1 FROM vaults WHERE name = ?').get(args.name)) {
      throw new CofferError('VaultNameTaken', `A vault named "${args.name}" already exists.`, { field: 'name' });
    }
    if (this.db.prepare('SELECT 1 FROM vaults WHERE location = ?').get(location)) {
      throw new CofferError('VaultFolderNotEmpty', `Another vault already uses ${location}.`, { field: fieldOf(loc) });
    }
    const createdFolder = loc.kind === 'folder' && prepareEmptyFolder(loc.path);
    // Set once the (object) location is known to have been empty: only then may a failure clean up.
    let madeHere: VaultStore | undefined;
    let inserted: string | undefined;
    try {
      // The container or bucket is created when it is missing and the credentials allow it.
      const store = await openStore(loc, { ...this.openOptions(args.credentialsFile ?? null, sasOf(loc)), create: true });
      if (loc.kind !== 'folder') {
        const present = (await store.list('')).filter((o) => !o.key.startsWith(PROBE_PREFIX));
        if (present.length > 0) {
          throw new CofferError('VaultFolderNotEmpty', `The location ${location} already holds ${present.length} object(s).`, { field: fieldOf(loc) },
            'Pick an empty container or bucket, or a new prefix (folder) inside it; to use a vault that is already there, connect it.');
        }
        madeHere = store;
      }
      const { config, keys } = await createVaultConfig({
        name: args.name,
        region: args.region,
        passphrase: args.passphrase,
        chunkSize: DEFAULT_CHUNK_SIZE,
      });
      await writeVaultConfig(store, config);
      const now = new Date().toISOString();
      inserted = config.id;
      this.db.transaction(() => {
        this.insertRow({ id: config.id, name: args.name, region: args.region, location, format_version: config.version, created_at: now, credentials_file: args.credentialsFile ?? null }, loc);
        ensureBuiltinPolicy(this.db, config.id, now);
      })();
      this.keepStore(config.id, store, loc);
      this.keys.set(config.id, keys);
      // The built-in policy lives in the vault from the start, so any install connecting finds it.
      for (const p of this.db.prepare('SELECT * FROM policies WHERE vault_id = ?').all(config.id) as Parameters<typeof policyRecordOf>[0][]) {
        const record = policyRecordOf(p);
        await putPolicyRecord(store, keys, record);
        markSynced(this.db, config.id, record);
      }
      this.events.emit('vaultsChanged', { names: [args.name] });
      return this.summary(this.row(args.name));
    } catch (e) {
      // Never leave half a vault behind: undo what this call created.
      if (inserted) {
        this.db.prepare('DELETE FROM vaults WHERE id = ?').run(inserted);
        this.keys.delete(inserted);
        this.forgetStore(inserted);
      }
      if (loc.kind === 'folder') {
        if (createdFolder) fs.rmSync(loc.path, { recursive: true, force: true });
        else for (const made of ['config', 'policies']) fs.rmSync(path.join(loc.path, made), { recursive: true, force: true });
      } else if (madeHere) {
        const store = madeHere;
        await Promise.allSettled((await store.list('').catch(() => [])).map((o) => store.delete(o.key)));
      }
      throw e;
    }
  }

  /** Whether this host can remember passphrases (an OS keychain); elsewhere a key file does it. */
  get keepsSecrets(): boolean {
    return this.secrets !== undefined;
  }

  /**
   * Opens a vault with its passphrase. `remember` keeps it in the OS keychain where this host has
   * one; where it has none the unlock still succeeds, and `unlocksAtStart` in the result says the
   * vault is not remembered (the faces offer a key file instead).
   */
  async unlock(name: string, passphrase: string, remember = false): Promise<VaultSummary> {
    const row = this.row(name);
    const config = await readVaultConfig(await this.storeFor(row));
    if (config.id !== row.id) {
      throw new CofferError('VaultCorrupt', `The storage at ${row.location} now holds another vault (${config.name}).`);
    }
    // A config claiming an older format than this console saw (version 2 has a MAC, 1 has none) was rolled back by someone.
    if (config.version < row.format_version) {
      throw new CofferError('VaultConfigTampered', `The config of the vault "${row.name}" claims format ${config.version}, but this console knows it at format ${row.format_version}.`);
    }
    this.keys.set(row.id, await unlockVaultConfig(config, passphrase));
    if (remember) this.secrets?.save(row.id, passphrase);
    // Opening a vault brings the catalog in line with it: points, policies and protections of other installs.
    await this.reconcileVault(row.id);
    this.events.emit('vaultsChanged', { names: [row.name] });
    return this.summary(row);
  }

  /**
   * Locked means locked until the admin unlocks: the key leaves memory, and so does every way this
   * console had to unlock it unattended (a remembered passphrase, the key-file association), or the
   * next scheduled job would quietly open it again. Unlocking with the passphrase opens it for this
   * run of the host; `setKeyFile` (or unlock with remember) makes it unattended again.
   */
  lock(name: string): VaultSummary {
    const row = this.row(name);
    this.keys.delete(row.id);
    this.secrets?.forget(row.id);
    this.db.prepare('DELETE FROM vault_keys WHERE vault_id = ?').run(row.id);
    this.dropHandle(row.id);
    this.events.emit('vaultsChanged', { names: [row.name] });
    return this.summary(row);
  }

  async delete(name: string, deleteData: boolean): Promise<{ name: string; dataDeleted: boolean; location: string }> {
    const row = this.row(name);
    const registered = this.registeredCount(row.id);
    if (registered > 0) {
      throw new CofferError(
        'VaultHasRegisteredItems',
        `The vault "${row.name}" still has ${registered} registered virtual machine(s).`,
        { registered },
      );
    }
    const loc = parseStoredLocation(row.location);
    let store: VaultStore | undefined;
    if (deleteData) {
      // Only remove storage that really is this vault: a moved or replaced folder is left alone.
      store = await this.storeFor(row);
      const config = await readVaultConfig(store);
      if (config.id !== row.id) {
        throw new CofferError('VaultCorrupt', `The storage at ${row.location} holds another vault; nothing was deleted.`);
      }
      // Object storage: every object of the vault goes, its config last (a failure midway leaves
      // the vault listed here, and deleting again finishes the work).
      if (loc.kind !== 'folder') await deleteAllObjects(store);
    }
    this.db.prepare('DELETE FROM vaults WHERE id = ?').run(row.id);
    this.keys.delete(row.id);
    this.dropHandle(row.id);
    this.forgetStore(row.id);
    if (deleteData && loc.kind === 'folder') fs.rmSync(loc.path, { recursive: true, force: true });
    this.events.emit('vaultsChanged', { names: [row.name] });
    return { name: row.name, dataDeleted: deleteData, location: row.location };
  }

  /**
   * Connects an existing vault (made by another install, or by this one before its data folder was
   * lost) under a local name: reads `config`, checks the passphrase, then records the vault with its
   * region, policies and every recovery point. Nothing is written to the catalog unless all of that
   * succeeds; the vault itself is only written to for records this install is the origin of (none yet).
   */
  async connect(args: ParsedArgsOf<'connectVault'>): Promise<ConnectedVault> {
    const loc = this.locationOf(args);
    const location = formatVaultLocation(loc);
    if (this.db.prepare('SELECT 1 FROM vaults WHERE name = ?').get(args.name)) {
      throw new CofferError('VaultNameTaken', `A vault named "${args.name}" already exists.`, { field: 'name' });
    }
    const store = await openStore(loc, this.openOptions(args.credentialsFile ?? null, sasOf(loc)));
    const config = await readVaultConfig(store);
    const same = this.db.prepare('SELECT name FROM vaults WHERE id = ?').get(config.id) as { name: string } | undefined;
    if (same) {
      throw new CofferError('VaultAlreadyConnected', `The vault at ${location} is already connected here as "${same.name}".`, { name: same.name, field: fieldOf(loc) });
    }
    if (this.db.prepare('SELECT 1 FROM vaults WHERE location = ?').get(location)) {
      throw new CofferError('VaultFolderNotEmpty', `Another vault already uses ${location}.`, { field: fieldOf(loc) });
    }
    const keys = await unlockVaultConfig(config, args.passphrase);
    const snap = await readVaultSnapshot(this.db, store, keys, config.id);
    const writes = this.db.transaction(() => {
      this.insertRow(
        { id: config.id, name: args.name, region: config.region, location, format_version: config.version, created_at: config.created, credentials_file: args.credentialsFile ?? null },
        loc,
      );
      return applyVaultSnapshot(this.db, { id: config.id, region: config.region }, snap, { connecting: true }).writes;
    })();
    this.keepStore(config.id, store, loc);
    this.keys.set(config.id, keys);
    // Without a keychain the vault is connected all the same, unremembered (see `unlocksAtStart`).
    if (args.remember) this.secrets?.save(config.id, args.passphrase);
    // An old vault gets its built-in policy record now (the first write of the new objects).
    await flushWrites(this.db, config.id, store, keys, writes);
    this.changed(args.name);
    const row = this.row(args.name);
    const backupOnly = this.db
      .prepare('SELECT name FROM vms WHERE vault_id = ? AND protection_state = ? ORDER BY name')
      .pluck()
      .all(row.id, BackupDataOnlyState) as string[];
    return {
      ...this.summary(row),
      pointCount: (this.db.prepare('SELECT count(*) FROM points WHERE vault_id = ?').pluck().get(row.id) as number),
      backupDataOnlyVms: backupOnly,
      pendingProtections: this.pendingProtections(row.name),
    };
  }

  /**
   * Forgets a vault in this install and keeps its data: its points leave the catalog, its VMs are
   * no longer registered here, and any install (this one too) can connect it again. Refused while
   * jobs of the vault run.
   */
  disconnect(name: string): { name: string; location: string } {
    const row = this.row(name);
    const running = this.db
      .prepare("SELECT count(*) FROM jobs WHERE vault_id = ? AND status IN ('Queued', 'InProgress', 'Cancelling')")
      .pluck()
      .get(row.id) as number;
    if (running > 0) {
      throw new CofferError('VaultJobsRunning', `${running} job(s) of the vault "${row.name}" are still running.`, { running });
    }
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM vms WHERE vault_id = ? AND source_id IS NULL').run(row.id);
      this.db
        .prepare(
          `UPDATE vms SET vault_id = NULL, registration_state = NULL, protection_state = NULL, policy_id = NULL, protected_at = NULL,
           last_attempt_at = NULL, pending_policy_id = NULL WHERE vault_id = ?`,
        )
        .run(row.id);
      this.db.prepare('DELETE FROM vaults WHERE id = ?').run(row.id);
    })();
    this.keys.delete(row.id);
    this.secrets?.forget(row.id);
    this.dropHandle(row.id);
    this.forgetStore(row.id);
    this.changed(row.name);
    return { name: row.name, location: row.location };
  }

  /**
   * Brings the catalog in line with the vault: points another install added (or this one wrote
   * just before a crash) appear, points the vault no longer holds disappear, policies and
   * protections recorded in the vault are taken in, and records this install is the origin of
   * are written. A locked vault can only lose points (manifests need the key).
   * Hook: the lead calls this after each job of the vault (see the report).
   */
  reconcileVault(vaultId: string): Promise<ReconcileReport> {
    const prev = this.reconciling.get(vaultId) ?? Promise.resolve(undefined);
    const next = prev.catch(() => undefined).then(() => this.reconcileNow(vaultId));
    this.reconciling.set(vaultId, next);
    void next.finally(() => {
      if (this.reconciling.get(vaultId) === next) this.reconciling.delete(vaultId);
    }).catch(() => undefined);
    return next;
  }

  private async reconcileNow(vaultId: string): Promise<ReconcileReport> {
    const row = this.db.prepare('SELECT * FROM vaults WHERE id = ?').get(vaultId) as VaultRow | undefined;
    if (!row) throw new CofferError('VaultNotFound', `No vault with id ${vaultId} in this console.`);
    const store = await this.storeFor(row);
    const keys = this.keys.get(row.id);
    const snap = await readVaultSnapshot(this.db, store, keys, row.id);
    const applied = this.db.transaction(() =>
      // Disconnected meanwhile: nothing to bring in line.
      this.db.prepare('SELECT 1 FROM vaults WHERE id = ?').get(row.id) ? applyVaultSnapshot(this.db, { id: row.id, region: row.region }, snap) : null,
    )();
    if (!applied) return { pointsAdded: 0, pointsRemoved: 0, unreadable: [], vmsAdded: 0, vmsRemoved: 0, policiesAdded: 0, recordsWritten: 0, complete: false };
    const { report, writes } = applied;
    if (keys) report.recordsWritten = await flushWrites(this.db, row.id, store, keys, writes);
    if (report.pointsAdded || report.pointsRemoved || report.vmsAdded || report.vmsRemoved || report.policiesAdded) this.changed(row.name);
    return report;
  }

  /** Protections recorded in the vault that wait for the admin's confirmation in this install. */
  pendingProtections(name: string): PendingProtection[] {
    const row = this.row(name);
    const rows = this.db
      .prepare(
        `SELECT vms.id, vms.name, vms.cloud_service, vms.source_id, policies.name AS policy FROM vms JOIN policies ON policies.id = vms.pending_policy_id
         WHERE vms.vault_id = ? ORDER BY vms.name, vms.cloud_service`,
      )
      .all(row.id) as { id: string; name: string; cloud_service: string; source_id: string | null; policy: string }[];
    return rows.map((r) => ({ vmId: r.id, vmName: r.name, cloudService: r.cloud_service, policy: r.policy, backupDataOnly: r.source_id === null }));
  }

  /**
   * Writes a policy's record to its vault at once (after create or edit). Without this call the
   * next reconcile (after a job, or opening the vault) writes it; a locked vault gets it then too.
   * Hook: the lead calls this from createPolicy/editPolicy (and the protect wizard's new policy).
   */
  async writePolicyRecord(policyId: string): Promise<boolean> {
    const row = policyRowFor(this.db, policyId);
    if (!row) throw new CofferError('PolicyNotFound', `No policy with id ${policyId}.`);
    const keys = this.keys.get(row.vault_id);
    if (!keys) return false;
    const record = policyRecordOf(row);
    await putPolicyRecord(await this.storeFor(this.rowById(row.vault_id)), keys, record);
    markSynced(this.db, row.vault_id, record);
    return true;
  }

  /**
   * Removes a deleted policy's record at once (after deletePolicy removed the row). Without this
   * call the next reconcile of an unlocked vault removes it.
   */
  async deletePolicyRecord(vaultId: string, policyId: string): Promise<boolean> {
    if (!this.keys.get(vaultId)) return false;
    await deletePolicyRecordObject(await this.storeFor(this.rowById(vaultId)), policyId);
    this.db.prepare('DELETE FROM policy_sync WHERE vault_id = ? AND policy_id = ?').run(vaultId, policyId);
    return true;
  }

  /**
   * Writes the protection record of one VM (which policy, protected or stopped) to its vault.
   * Reconcile after each job writes it too; calling this right after protect, change policy, stop
   * and resume makes it durable at once. Returns false when nothing was written (locked, or not protected).
   */
  async writeProtectionRecord(vmId: string): Promise<boolean> {
    const want = protectionRecordFor(this.db, vmId);
    if (!want) return false;
    const keys = this.keys.get(want.vaultId);
    if (!keys) return false;
    await putProtectionRecord(await this.storeFor(this.rowById(want.vaultId)), keys, want.record);
    return true;
  }

  /** Removes the protection record of a VM (after its backup data is deleted or it is unregistered). */
  async deleteProtectionRecord(vaultId: string, vmId: string): Promise<void> {
    await deleteProtectionRecordObject(await this.storeFor(this.rowById(vaultId)), vmId);
  }

  /**
   * Unattended unlocking for scheduled backups on a headless host: the admin points to a file
   * only the service user can read. The file is checked (key-file.ts) and its passphrase tried (a
   * real unlock) before anything is kept; only its path is stored, never the passphrase. `null`
   * forgets the association (the vault stays unlocked for this run of the host).
   */
  async setKeyFile(name: string, keyFile: string | null): Promise<VaultSummary> {
    const row = this.row(name);
    if (keyFile === null) {
      this.db.prepare('DELETE FROM vault_keys WHERE vault_id = ?').run(row.id);
    } else {
      await this.unlock(row.name, readKeyFile(keyFile));
      this.db.prepare('INSERT INTO vault_keys (vault_id, key_file) VALUES (?, ?) ON CONFLICT (vault_id) DO UPDATE SET key_file = excluded.key_file').run(row.id, keyFile);
    }
    this.events.emit('vaultsChanged', { names: [row.name] });
    return this.summary(row);
  }

  /** The key file that unlocks a vault at start, if one is set. */
  private keyFileOf(vaultId: string): string | undefined {
    return (this.db.prepare('SELECT key_file FROM vault_keys WHERE vault_id = ?').get(vaultId) as { key_file: string } | undefined)?.key_file;
  }

  /** What `openVault` will find when the host starts: the keychain first, then the key file. */
  private unlocksAtStart(vaultId: string): UnlockAtStart {
    if (this.secrets?.load(vaultId) !== undefined) return { via: 'keychain' };
    const keyFile = this.keyFileOf(vaultId);
    return keyFile ? { via: 'keyFile', keyFile } : { via: 'none' };
  }

  /** The engine handle of an unlocked vault; a remembered key unlocks it, else `VaultLocked`. */
  async openVault(name: string): Promise<Vault> {
    const row = this.row(name);
    if (!this.keys.has(row.id)) {
      const keyFile = this.keyFileOf(row.id);
      const remembered = this.secrets?.load(row.id) ?? (keyFile ? readKeyFile(keyFile) : undefined);
      if (remembered !== undefined) await this.unlock(row.name, remembered);
    }
    const keys = this.keysOf(row.name);
    let handle = this.handles.get(row.id);
    if (!handle) {
      handle = this.storeFor(row).then((store) => Vault.openWithKeys(store, keys, this.cacheRoot ? { cacheDir: path.join(this.cacheRoot, row.id) } : {}));
      this.handles.set(row.id, handle);
      handle.catch(() => this.handles.delete(row.id));
      await this.reconcileVault(row.id);
    }
    return handle;
  }

  /** Closes every open handle (worker pools); keys stay. */
  async closeHandles(): Promise<void> {
    await Promise.allSettled([...this.reconciling.values()]);
    const open = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(open.map(async (h) => (await h).close()));
  }

  private dropHandle(id: string): void {
    const h = this.handles.get(id);
    this.handles.delete(id);
    void h?.then((v) => v.close()).catch(() => undefined);
  }

  /** The keys of an unlocked vault, or `VaultLocked`. */
  keysOf(name: string): VaultKeys {
    const row = this.row(name);
    const keys = this.keys.get(row.id);
    if (!keys) throw new CofferError('VaultLocked', `The vault "${row.name}" is locked.`);
    return keys;
  }

  idOf(name: string): string {
    return this.row(name).id;
  }

  /** One vault by name (ignoring case), or `VaultNotFound`. */
  get(name: string): VaultSummary {
    return this.summary(this.row(name));
  }

  /**
   * The one place a vault row becomes a store (folder, Azure Blob, S3), opened once per vault and
   * kept. Credentials are found again each time the process starts, without anyone present: the
   * SAS token kept in the OS keychain, else the credentials file the catalog names, else the
   * environment of this process (AZURE_STORAGE_*, AWS_*). A failed open is not kept: the next
   * call tries again (the storage may be back).
   */
  private storeFor(row: VaultRow): Promise<VaultStore> {
    let store = this.stores.get(row.id);
    if (!store) {
      const opened = openStore(parseStoredLocation(row.location), this.openOptions(row.credentials_file, this.secrets?.load(sasSecretKey(row.id))));
      this.stores.set(row.id, opened);
      opened.catch(() => {
        if (this.stores.get(row.id) === opened) this.stores.delete(row.id);
      });
      store = opened;
    }
    return store;
  }

  private openOptions(credentialsFile: string | null, sasToken: string | undefined): OpenStoreOptions {
    if (sasToken) return { credentials: { azure: { sasToken } } };
    return credentialsFile ? { credentialsFile } : {};
  }

  /**
   * Parses where the vault lives. A SAS token inside an Azure URL is a secret: it is kept only in
   * the OS keychain (desktop app); without one it is refused, never stored in the catalog.
   */
  private locationOf(args: StorageArgs): VaultLocation {
    const loc = parseVaultLocation({
      ...(args.path !== undefined ? { path: args.path } : {}),
      ...(args.azure !== undefined ? { azure: args.azure } : {}),
      ...(args.s3 !== undefined ? { s3: args.s3 } : {}),
      ...(args.endpoint !== undefined ? { endpoint: args.endpoint } : {}),
      ...(args.s3Region !== undefined ? { region: args.s3Region } : {}),
    });
    if (args.credentialsFile !== undefined && loc.kind === 'folder') {
      throw new CofferError('InvalidArgument', 'credentialsFile: a folder vault needs no credentials.', { field: 'credentialsFile' });
    }
    if (loc.kind === 'azure' && loc.sasToken && !this.secrets) {
      throw new CofferError(
        'StorageCredentialsMissing',
        'A SAS token in the URL cannot be kept on this host: it has no OS keychain, and Coffer never stores credentials in plain text.',
        { field: 'azure' },
        'Give the URL without its query and put the token in a credentials file (chmod 600, {"azure": {"sasToken": "..."}}) passed with --credentials-file, or set AZURE_STORAGE_SAS_TOKEN (or AZURE_STORAGE_CONNECTION_STRING) in the environment of Coffer.',
      );
    }
    return loc;
  }

  private insertRow(row: VaultRow, loc: VaultLocation): void {
    this.db
      .prepare('INSERT INTO vaults (id, name, region, location, backend, format_version, created_at, credentials_file) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(row.id, row.name, row.region, row.location, loc.kind, row.format_version, row.created_at, row.credentials_file);
  }

  /** Keeps the store just opened for a new row, and its SAS token (if any) in the keychain. */
  private keepStore(vaultId: string, store: VaultStore, loc: VaultLocation): void {
    this.stores.set(vaultId, Promise.resolve(store));
    if (loc.kind === 'azure' && loc.sasToken) this.secrets!.save(sasSecretKey(vaultId), loc.sasToken);
  }

  private forgetStore(vaultId: string): void {
    this.stores.delete(vaultId);
    this.secrets?.forget(sasSecretKey(vaultId));
  }

  /** After an upgrade: the catalog records the format the vault's config now has (never lower). */
  recordFormatVersion(name: string, version: number): void {
    const row = this.row(name);
    if (version <= row.format_version) return;
    this.db.prepare('UPDATE vaults SET format_version = ? WHERE id = ?').run(version, row.id);
    this.events.emit('vaultsChanged', { names: [row.name] });
  }

  private changed(name: string): void {
    this.events.emit('vaultsChanged', { names: [name] });
    this.events.emit('protectionChanged', {});
  }

  private rowById(id: string): VaultRow {
    const row = this.db.prepare('SELECT * FROM vaults WHERE id = ?').get(id) as VaultRow | undefined;
    if (!row) throw new CofferError('VaultNotFound', `No vault with id ${id} in this console.`);
    return row;
  }

  private row(name: string): VaultRow {
    const row = this.db.prepare('SELECT * FROM vaults WHERE name = ?').get(name) as VaultRow | undefined;
    if (!row) throw new CofferError('VaultNotFound', `No vault named "${name}" in this console.`, { name });
    return row;
  }

  private registeredCount(vaultId: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM vms WHERE vault_id = ?').get(vaultId) as { n: number }).n;
  }

  private summary(r: VaultRow): VaultSummary {
    return {
      id: r.id,
      name: r.name,
      region: r.region,
      location: r.location,
      created: r.created_at,
      formatVersion: r.format_version,
      formatUpgradable: r.format_version < VAULT_FORMAT_VERSION,
      unlocked: this.keys.has(r.id),
      registeredCount: this.registeredCount(r.id),
      unlocksAtStart: this.unlocksAtStart(r.id),
      scheduledCount: this.db
        .prepare(`SELECT count(*) FROM vms WHERE vault_id = ? AND policy_id IS NOT NULL AND protection_state IN (${SCHEDULED_STATES.map(() => '?').join(', ')})`)
        .pluck()
        .get(r.id, ...SCHEDULED_STATES) as number,
    };
  }
}

/** Where the desktop app keeps passphrases a user chose to remember (Electron safeStorage). */
export interface SecretStore {
  save(vaultId: string, passphrase: string): void;
  load(vaultId: string): string | undefined;
  forget(vaultId: string): void;
}

/**
 * A new vault gets a folder of its own: absent (created here) or empty. Returns whether this call
 * created it, so a failed create can remove exactly what it made.
 */
function prepareEmptyFolder(location: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(location);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CofferError('VaultPathInvalid', `Cannot use ${location}: ${(e as Error).message}`, { field: 'path' });
    }
    try {
      fs.mkdirSync(location, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new CofferError('VaultPathInvalid', `Cannot create ${location}: ${(err as Error).message}`, { field: 'path' });
    }
    return true;
  }
  if (!st.isDirectory()) {
    throw new CofferError('VaultPathInvalid', `${location} is a file, not a folder.`, { field: 'path' });
  }
  if (fs.readdirSync(location).length > 0) {
    throw new CofferError('VaultFolderNotEmpty', `The folder ${location} is not empty.`, { field: 'path' });
  }
  return false;
}

/** The SAS token an Azure URL carried (a secret: never in the catalog). */
function sasOf(loc: VaultLocation): string | undefined {
  return loc.kind === 'azure' ? loc.sasToken : undefined;
}

/** The argument an error about a location points at. */
function fieldOf(loc: VaultLocation): 'path' | 'azure' | 's3' {
  return loc.kind === 'folder' ? 'path' : loc.kind;
}

/** Removes every object of a vault on object storage, its config last. */
async function deleteAllObjects(store: VaultStore): Promise<void> {
  const keys = (await store.list('')).map((o) => o.key).filter((k) => k !== 'config');
  for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map((k) => store.delete(k)));
  await store.delete('config');
}
