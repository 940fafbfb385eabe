import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_POLICY_SPEC, type ParsedArgsOf, type VaultDetails, type VaultSummary } from '../../preload/contract.js';
import type { Db } from './catalog/catalog.js';
import { CofferError } from './errors.js';
import type { EngineEvents } from './events.js';
import { createVaultConfig, readVaultConfig, unlockVaultConfig, writeVaultConfig, type VaultKeys } from './vault/config.js';
import { DEFAULT_CHUNK_SIZE } from './vault/format.js';
import { LocalFolderStore } from './vault/local-store.js';
import { Vault } from './vault/vault.js';

interface VaultRow {
  id: string;
  name: string;
  region: string;
  location: string;
  format_version: number;
  created_at: string;
}

/** The built-in policy every vault has from creation (W8): one backup a day, kept 30 days. */
export const DEFAULT_POLICY_NAME = 'DefaultPolicy';

/** Vaults known to this console: the catalog rows plus, for unlocked ones, their keys in memory. */
export class VaultService {
  private readonly keys = new Map<string, VaultKeys>();
  /** Open engine handles (index in memory, worker pool) of unlocked vaults, made on first use. */
  private readonly handles = new Map<string, Promise<Vault>>();

  constructor(
    private readonly db: Db,
    private readonly events: EngineEvents,
    private readonly secrets?: SecretStore,
  ) {}

  list(): VaultSummary[] {
    const rows = this.db.prepare('SELECT * FROM vaults ORDER BY name COLLATE NOCASE').all() as VaultRow[];
    return rows.map((r) => this.summary(r));
  }

  async show(name: string): Promise<Omit<VaultDetails, 'policies'>> {
    const row = this.row(name);
    const store = new LocalFolderStore(row.location);
    let usedBytes = 0;
    let pointCount = 0;
    for (const obj of await store.list('')) {
      usedBytes += obj.size;
      if (obj.key.startsWith('points/')) pointCount++;
    }
    return { ...this.summary(row), usedBytes, pointCount };
  }

  async create(args: ParsedArgsOf<'createVault'>): Promise<VaultSummary> {
    const location = path.resolve(args.path);
    if (this.db.prepare('SELECT 1 FROM vaults WHERE name = ?').get(args.name)) {
      throw new CofferError('VaultNameTaken', `A vault named "${args.name}" already exists.`, { field: 'name' });
    }
    if (this.db.prepare('SELECT 1 FROM vaults WHERE location = ?').get(location)) {
      throw new CofferError('VaultFolderNotEmpty', `Another vault already uses ${location}.`, { field: 'path' });
    }
    const createdFolder = prepareEmptyFolder(location);
    try {
      const store = new LocalFolderStore(location);
      const { config, keys } = await createVaultConfig({
        name: args.name,
        region: args.region,
        passphrase: args.passphrase,
        chunkSize: DEFAULT_CHUNK_SIZE,
      });
      await writeVaultConfig(store, config);
      const now = new Date().toISOString();
      this.db.transaction(() => {
        this.db
          .prepare('INSERT INTO vaults (id, name, region, location, format_version, created_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(config.id, args.name, args.region, location, config.version, now);
        this.db
          .prepare('INSERT INTO policies (id, vault_id, name, builtin, spec, created_at) VALUES (?, ?, ?, 1, ?, ?)')
          .run(randomUUID(), config.id, DEFAULT_POLICY_NAME, JSON.stringify(DEFAULT_POLICY_SPEC), now);
      })();
      this.keys.set(config.id, keys);
      this.events.emit('vaultsChanged', { names: [args.name] });
      return this.summary(this.row(args.name));
    } catch (e) {
      // Never leave half a vault behind: undo what this call created on disk.
      if (createdFolder) fs.rmSync(location, { recursive: true, force: true });
      else fs.rmSync(path.join(location, 'config'), { force: true });
      throw e;
    }
  }

  async unlock(name: string, passphrase: string, remember = false): Promise<VaultSummary> {
    const row = this.row(name);
    if (remember && !this.secrets) {
      throw new CofferError(
        'InvalidArgument',
        'remember: this host cannot keep secrets safely (no OS keychain).',
        { field: 'remember' },
        'Use the desktop app, or point Coffer to a key file: `coffer vault remember NAME --key-file FILE`.',
      );
    }
    const config = await readVaultConfig(new LocalFolderStore(row.location));
    if (config.id !== row.id) {
      throw new CofferError('VaultCorrupt', `The folder ${row.location} now holds another vault (${config.name}).`);
    }
    this.keys.set(row.id, await unlockVaultConfig(config, passphrase));
    if (remember) this.secrets!.save(row.id, passphrase);
    this.events.emit('vaultsChanged', { names: [row.name] });
    return this.summary(row);
  }

  lock(name: string): VaultSummary {
    const row = this.row(name);
    this.keys.delete(row.id);
    this.secrets?.forget(row.id);
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
    if (deleteData) {
      // Only remove a folder that really is this vault: a moved or replaced folder is left alone.
      const config = await readVaultConfig(new LocalFolderStore(row.location));
      if (config.id !== row.id) {
        throw new CofferError('VaultCorrupt', `The folder ${row.location} holds another vault; nothing was deleted.`);
      }
    }
    this.db.prepare('DELETE FROM vaults WHERE id = ?').run(row.id);
    this.keys.delete(row.id);
    this.dropHandle(row.id);
    if (deleteData) fs.rmSync(row.location, { recursive: true, force: true });
    this.events.emit('vaultsChanged', { names: [row.name] });
    return { name: row.name, dataDeleted: deleteData, location: row.location };
  }

  /**
   * Unattended unlocking for scheduled backups on a headless host: the admin points to a file
   * only the service user can read. Only its path is stored, never the passphrase.
   */
  async setKeyFile(name: string, keyFile: string | null): Promise<VaultSummary> {
    const row = this.row(name);
    if (keyFile === null) {
      this.db.prepare('DELETE FROM vault_keys WHERE vault_id = ?').run(row.id);
      return this.summary(row);
    }
    await this.unlock(row.name, readKeyFile(keyFile));
    this.db.prepare('INSERT INTO vault_keys (vault_id, key_file) VALUES (?, ?) ON CONFLICT (vault_id) DO UPDATE SET key_file = excluded.key_file').run(row.id, keyFile);
    return this.summary(row);
  }

  /** The engine handle of an unlocked vault; a remembered key unlocks it, else `VaultLocked`. */
  async openVault(name: string): Promise<Vault> {
    const row = this.row(name);
    if (!this.keys.has(row.id)) {
      const keyFile = (this.db.prepare('SELECT key_file FROM vault_keys WHERE vault_id = ?').get(row.id) as { key_file: string } | undefined)?.key_file;
      const remembered = this.secrets?.load(row.id) ?? (keyFile ? readKeyFile(keyFile) : undefined);
      if (remembered !== undefined) await this.unlock(row.name, remembered);
    }
    const keys = this.keysOf(row.name);
    let handle = this.handles.get(row.id);
    if (!handle) {
      handle = Vault.openWithKeys(new LocalFolderStore(row.location), keys);
      this.handles.set(row.id, handle);
      handle.catch(() => this.handles.delete(row.id));
    }
    return handle;
  }

  /** Closes every open handle (worker pools); keys stay. */
  async closeHandles(): Promise<void> {
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
      unlocked: this.keys.has(r.id),
      registeredCount: this.registeredCount(r.id),
    };
  }
}

/** Where the desktop app keeps passphrases a user chose to remember (Electron safeStorage). */
export interface SecretStore {
  save(vaultId: string, passphrase: string): void;
  load(vaultId: string): string | undefined;
  forget(vaultId: string): void;
}

/** A key file must belong to this user and be unreadable by others, like an ssh key. */
function readKeyFile(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new CofferError('VaultLocked', `The key file ${file} cannot be read: ${(e as Error).message}`, { keyFile: file });
  }
  if ((st.mode & 0o077) !== 0 || (typeof process.getuid === 'function' && st.uid !== process.getuid())) {
    throw new CofferError(
      'VaultLocked',
      `The key file ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}).`,
      { keyFile: file },
      `Make it private to the service user: chmod 600 ${file}`,
    );
  }
  return (fs.readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
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
