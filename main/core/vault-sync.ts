import { randomUUID } from 'node:crypto';
import { BackupDataOnlyState, DEFAULT_POLICY_SPEC } from '../../preload/contract.js';
import type { Db } from './catalog/catalog.js';
import { CofferError } from './errors.js';
import { CONFIG_KEY, readVaultConfig, type VaultKeys } from './vault/config.js';
import type { Manifest } from './vault/format.js';
import { listPointIds, readManifest } from './vault/manifest.js';
import {
  deletePolicyRecordObject,
  deleteProtectionRecordObject,
  putPolicyRecord,
  putProtectionRecord,
  readPolicyRecords,
  readProtectionRecords,
  type PolicyRecord,
  type ProtectionRecord,
} from './vault/records.js';
import type { ObjectStore } from './vault/storage.js';

/**
 * The catalog follows the vault (issue 11): recovery points, policies and protection records are
 * read from the vault and the catalog is brought in line with them. The points table is the cache:
 * only manifests the catalog does not list yet are read, so opening a big vault reads what is new.
 *
 * Size (about 450 lines): points, policies and protection records are reconciled in one pass
 * against one snapshot of the vault's listing, so the three stay consistent with each other.
 */

/** The built-in policy every vault has from creation (W8): one backup a day, kept 30 days. */
export const DEFAULT_POLICY_NAME = 'DefaultPolicy';

/** Protection states in which this install backs the VM up on schedule. */
const ACTIVE = ['ProtectedPendingInitialBackup', 'Protected', 'ProtectionError'];
/** States a protection record describes: the VM's backups belong to a policy of the vault. */
const RECORDED = [...ACTIVE, 'ProtectionStopped'];

export interface ReconcileReport {
  pointsAdded: number;
  pointsRemoved: number;
  /** Manifests or records that exist but cannot be read (damaged): never listed. */
  unreadable: string[];
  /** VMs that appeared as "Backup data only" items, and those that went (no point left). */
  vmsAdded: number;
  vmsRemoved: number;
  policiesAdded: number;
  /** Records this install wrote to the vault (policies and protections it is the origin of). */
  recordsWritten: number;
  /** False when the vault was locked: only vanished points could be removed. */
  complete: boolean;
}

/** What was read from the vault, before anything is written to the catalog. */
export interface VaultSnapshot {
  /** Point ids the catalog listed before the vault was listed: only these may be removed. */
  known: Set<string>;
  listed: Set<string>;
  manifests: Manifest[];
  unreadable: string[];
  /** Undefined when the vault is locked (records and manifests need the key). */
  policies?: PolicyRecord[];
  protections?: ProtectionRecord[];
}

interface PolicyRow {
  id: string;
  name: string;
  builtin: number;
  spec: string;
  created_at: string;
}

interface VmRow {
  id: string;
  source_id: string | null;
  stable_id: string;
  name: string;
  cloud_service: string;
  region: string;
  kind: string;
  vault_id: string | null;
  protection_state: string | null;
  policy_id: string | null;
  pending_policy_id: string | null;
}

/** Reads what the vault holds that the catalog does not know yet (async; writes nothing). */
export async function readVaultSnapshot(db: Db, store: ObjectStore, keys: VaultKeys | undefined, vaultId: string): Promise<VaultSnapshot> {
  // An unmounted disk or a moved folder lists as empty: only a listing of this very vault may remove points.
  const config = await readVaultConfig(store);
  if (config.id !== vaultId) {
    throw new CofferError('VaultCorrupt', `The storage at ${store.location} now holds another vault (${config.name}); the catalog was left as it is.`);
  }
  // The snapshot of known ids is taken before listing: a point this install adds meanwhile is never removed.
  const known = new Set((db.prepare('SELECT id FROM points WHERE vault_id = ?').pluck().all(vaultId) as string[]));
  const listed = new Set(await listPointIds(store));
  // ...and the vault must still be there after the listing (a disk unmounted while it ran).
  if (!(await store.stat(CONFIG_KEY))) throw new CofferError('VaultNotFound', `The vault at ${store.location} went away while it was read; the catalog was left as it is.`);
  const snap: VaultSnapshot = { known, listed, manifests: [], unreadable: [] };
  if (!keys) return snap;
  for (const id of listed) {
    if (known.has(id)) continue;
    try {
      snap.manifests.push(await readManifest(store, keys, id));
    } catch (e) {
      if (!(e instanceof CofferError)) throw e;
      // Pruned since the listing: simply gone. Damaged: not listed, since it cannot be restored.
      if (e.code === 'RecoveryPointNotFound') listed.delete(id);
      else snap.unreadable.push(`points/${id}`);
    }
  }
  const policies = await readPolicyRecords(store, keys);
  const protections = await readProtectionRecords(store, keys);
  snap.policies = policies.records;
  snap.protections = protections.records;
  snap.unreadable.push(...policies.unreadable, ...protections.unreadable);
  return snap;
}

/** Records the catalog must write to the vault after applying a snapshot. */
export interface PendingWrites {
  policies: PolicyRecord[];
  deletePolicies: string[];
  protections: ProtectionRecord[];
  deleteProtections: string[];
}

/**
 * Brings the catalog in line with a snapshot, in the caller's transaction (sync). Returns the
 * report and the records this install must write back (policies it created, VMs it protects).
 */
export function applyVaultSnapshot(
  db: Db,
  vault: { id: string; region: string },
  snap: VaultSnapshot,
  opts: { connecting?: boolean } = {},
): { report: ReconcileReport; writes: PendingWrites } {
  const ctx: RowContext = { db, vault, report: undefined as unknown as ReconcileReport, connecting: opts.connecting === true, adopted: new Set() };
  const report: ReconcileReport = {
    pointsAdded: 0,
    pointsRemoved: 0,
    unreadable: [...snap.unreadable],
    vmsAdded: 0,
    vmsRemoved: 0,
    policiesAdded: 0,
    recordsWritten: 0,
    complete: snap.policies !== undefined,
  };
  const writes: PendingWrites = { policies: [], deletePolicies: [], protections: [], deleteProtections: [] };
  ctx.report = report;

  // 1. Policies, merged three ways against what this install last synced: a side that changed
  // since wins (this install's edit when both did), a deletion on either side deletes.
  if (snap.policies) syncPolicies(db, vault.id, snap.policies, writes, report);
  else ensureBuiltinPolicy(db, vault.id);

  // 2. Points the vault no longer holds (pruned or deleted by another install) disappear.
  const del = db.prepare('DELETE FROM points WHERE vault_id = ? AND id = ?');
  for (const id of snap.known) if (!snap.listed.has(id)) report.pointsRemoved += del.run(vault.id, id).changes;

  // 3. Points the catalog does not list yet are added, and their VM appears.
  const insert = db.prepare(
    `INSERT INTO points (vault_id, id, vm_id, vm_name, created_at, consistency, retain_until, manual, logical_bytes, added_bytes, disks)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (vault_id, id) DO NOTHING`,
  );
  const backingUp = db.prepare("SELECT 1 FROM jobs WHERE vm_id = ? AND operation = 'Backup' AND status IN ('Queued', 'InProgress', 'Cancelling')");
  for (const m of snap.manifests) {
    // The point of a running backup is that job's to record (its manifest lands just before its row).
    if (m.vm.id && backingUp.get(m.vm.id)) continue;
    const vmId = vmRowFor(ctx, { key: m.vm.id, name: m.vm.name, policyName: m.policy });
    report.pointsAdded += insert.run(
      vault.id,
      m.id,
      vmId,
      m.vm.name,
      m.created,
      m.consistency,
      m.retainUntil,
      // The same rule as Backup Now: a manual point is kept until its retain-until date.
      m.retainUntil !== null ? 1 : 0,
      m.stats.logicalBytes,
      m.stats.addedBytes,
      // The checkpoint too: the next changed-block backup finds its parent's (see protection/cbt-backup.ts).
      JSON.stringify(m.disks.map((d) => ({ name: d.name, size: d.size, sha256: d.sha256, ...(d.checkpoint ? { checkpoint: d.checkpoint } : {}) }))),
    ).changes;
  }

  // 4. Protection records: this install writes those of the VMs it protects; the others describe
  // VMs of other (or lost) installs and become "pending confirmation" on Backup data only items.
  if (snap.protections) {
    // Backup data only items whose data was deleted: their protection record goes with them.
    const dropped = new Set(
      db.prepare('SELECT id FROM vms WHERE vault_id = ? AND source_id IS NULL AND protection_state IS NULL').pluck().all(vault.id) as string[],
    );
    for (const id of dropped) {
      if (snap.protections.some((r) => r.vmKey === id)) writes.deleteProtections.push(id);
    }
    const byKey = new Map(snap.protections.map((r) => [r.vmKey, r]));
    const mine = db
      .prepare(
        `SELECT vms.*, policies.name AS policy_name FROM vms JOIN policies ON policies.id = vms.policy_id
         WHERE vms.vault_id = ? AND vms.source_id IS NOT NULL AND vms.pending_policy_id IS NULL
           AND vms.protection_state IN (${RECORDED.map(() => '?').join(', ')})`,
      )
      .all(vault.id, ...RECORDED) as (VmRow & { policy_name: string })[];
    const mineIds = new Set<string>();
    for (const vm of mine) {
      if (ctx.adopted.has(vm.id)) continue;
      mineIds.add(vm.id);
      const want = protectionRecordOf(vm, vm.policy_name);
      const have = byKey.get(vm.id);
      if (!have || !sameProtection(have, want)) writes.protections.push(want);
    }
    for (const r of snap.protections) {
      if (mineIds.has(r.vmKey) || dropped.has(r.vmKey)) continue;
      let row = db.prepare('SELECT * FROM vms WHERE id = ?').get(r.vmKey) as VmRow | undefined;
      if (row?.source_id && (ctx.adopted.has(row.id) || (row.vault_id === null && adopt(ctx, row, r.policyName)))) {
        row = db.prepare('SELECT * FROM vms WHERE id = ?').get(r.vmKey) as VmRow;
        if (r.state === 'protected' && db.prepare('SELECT 1 FROM policies WHERE id = ? AND vault_id = ?').get(r.policyId, vault.id)) {
          db.prepare('UPDATE vms SET pending_policy_id = ? WHERE id = ?').run(r.policyId, row.id);
        }
        continue;
      }
      if (row?.source_id) {
        // A VM this install knows from a source but no longer protects in this vault: the record is stale.
        if (row.vault_id !== vault.id || !row.protection_state || !RECORDED.includes(row.protection_state)) writes.deleteProtections.push(r.vmKey);
        continue;
      }
      if (row && row.vault_id !== vault.id) continue; // id taken by a VM of another vault: leave it
      const pendingPolicy =
        r.state === 'protected' && db.prepare('SELECT 1 FROM policies WHERE id = ? AND vault_id = ?').get(r.policyId, vault.id) ? r.policyId : null;
      if (!row && !pendingPolicy) continue; // a stopped protection without points: nothing to show
      const id = row?.id ?? vmRowFor(ctx, { key: r.vmKey, name: r.vm.name, policyName: r.policyName });
      db.prepare('UPDATE vms SET stable_id = ?, name = ?, cloud_service = ?, kind = ?, pending_policy_id = ? WHERE id = ? AND source_id IS NULL').run(
        r.vm.stableId,
        r.vm.name,
        r.vm.cloudService,
        r.vm.kind,
        pendingPolicy,
        id,
      );
    }
  }

  // 5. A Backup data only item with no point left and nothing pending, or whose data the admin
  // deleted (protection cleared), has nothing to show.
  report.vmsRemoved += db
    .prepare(
      `DELETE FROM vms WHERE vault_id = ? AND source_id IS NULL AND (protection_state IS NULL
       OR (pending_policy_id IS NULL AND NOT EXISTS (SELECT 1 FROM points WHERE points.vm_id = vms.id)))`,
    )
    .run(vault.id).changes;
  return { report, writes };
}

/** Writes back what applyVaultSnapshot asked for; a policy counts as synced once its write succeeded. */
export async function flushWrites(db: Db, vaultId: string, store: ObjectStore, keys: VaultKeys, writes: PendingWrites): Promise<number> {
  let n = 0;
  for (const p of writes.policies) {
    await putPolicyRecord(store, keys, p);
    markSynced(db, vaultId, p);
    n++;
  }
  for (const id of writes.deletePolicies) {
    await deletePolicyRecordObject(store, id);
    db.prepare('DELETE FROM policy_sync WHERE vault_id = ? AND policy_id = ?').run(vaultId, id);
    n++;
  }
  for (const r of writes.protections) {
    await putProtectionRecord(store, keys, r);
    n++;
  }
  for (const k of writes.deleteProtections) {
    await deleteProtectionRecordObject(store, k);
    n++;
  }
  return n;
}

/** What a policy is, for comparing catalog, vault and last sync: name, built-in flag and spec. */
function policyState(p: { name: string; builtin: boolean | number; spec: unknown }): string {
  return JSON.stringify({ name: p.name, builtin: p.builtin === true || p.builtin === 1, spec: typeof p.spec === 'string' ? (JSON.parse(p.spec) as unknown) : p.spec });
}

export function markSynced(db: Db, vaultId: string, r: PolicyRecord): void {
  db.prepare('INSERT INTO policy_sync (vault_id, policy_id, synced) VALUES (?, ?, ?) ON CONFLICT (vault_id, policy_id) DO UPDATE SET synced = excluded.synced').run(
    vaultId,
    r.id,
    policyState(r),
  );
}

function syncPolicies(db: Db, vaultId: string, records: PolicyRecord[], writes: PendingWrites, report: ReconcileReport): void {
  const rows = new Map((db.prepare('SELECT * FROM policies WHERE vault_id = ?').all(vaultId) as PolicyRow[]).map((r) => [r.id, r]));
  const synced = new Map(
    (db.prepare('SELECT policy_id, synced FROM policy_sync WHERE vault_id = ?').all(vaultId) as { policy_id: string; synced: string }[]).map((r) => [r.policy_id, r.synced]),
  );
  const recs = new Map(records.map((r) => [r.id, r]));
  const used = (id: string) => db.prepare('SELECT 1 FROM vms WHERE policy_id = ? OR pending_policy_id = ?').get(id, id) !== undefined;
  const take = (r: PolicyRecord, insert: boolean) => {
    if (insert) {
      // Two policies of one name cannot live in one vault's catalog: this install's stays, the admin renames one.
      if (db.prepare('SELECT 1 FROM policies WHERE vault_id = ? AND name = ?').get(vaultId, r.name)) return;
      db.prepare('INSERT INTO policies (id, vault_id, name, builtin, spec, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(r.id, vaultId, r.name, r.builtin ? 1 : 0, JSON.stringify(r.spec), r.created);
      report.policiesAdded++;
    } else {
      if (db.prepare('SELECT 1 FROM policies WHERE vault_id = ? AND name = ? AND id <> ?').get(vaultId, r.name, r.id)) return;
      db.prepare('UPDATE policies SET name = ?, builtin = ?, spec = ? WHERE id = ?').run(r.name, r.builtin ? 1 : 0, JSON.stringify(r.spec), r.id);
    }
    markSynced(db, vaultId, r);
  };
  for (const id of new Set([...rows.keys(), ...synced.keys(), ...recs.keys()])) {
    const row = rows.get(id);
    const base = synced.get(id);
    const rec = recs.get(id);
    if (row && base === undefined) {
      if (rec) take(rec, false); // the same policy on both sides, never compared: the vault's
      else writes.policies.push(policyRecordOf(row)); // new here (or from before records): write it
    } else if (row && base !== undefined) {
      const localChanged = policyState(row) !== base;
      if (rec) {
        if (localChanged) writes.policies.push(policyRecordOf(row));
        else if (policyState(rec) !== base) take(rec, false);
      } else if (!used(id)) {
        // Deleted by another install: gone here too...
        db.prepare('DELETE FROM policies WHERE id = ?').run(id);
        db.prepare('DELETE FROM policy_sync WHERE vault_id = ? AND policy_id = ?').run(vaultId, id);
      } else writes.policies.push(policyRecordOf(row)); // ...unless a VM of this install still uses it
    } else if (!row && base !== undefined) {
      // Deleted in this install since the last sync.
      if (rec) writes.deletePolicies.push(id);
      else db.prepare('DELETE FROM policy_sync WHERE vault_id = ? AND policy_id = ?').run(vaultId, id);
    } else if (rec) take(rec, true); // new in the vault
  }
  ensureBuiltinPolicy(db, vaultId);
  const builtin = db.prepare('SELECT * FROM policies WHERE vault_id = ? AND builtin = 1').get(vaultId) as PolicyRow;
  if (!synced.has(builtin.id) && !recs.has(builtin.id) && !writes.policies.some((p) => p.id === builtin.id)) writes.policies.push(policyRecordOf(builtin));
}

/** The vault's built-in policy, made in the catalog when neither the catalog nor the vault has it. */
export function ensureBuiltinPolicy(db: Db, vaultId: string, now = new Date().toISOString()): void {
  if (db.prepare('SELECT 1 FROM policies WHERE vault_id = ? AND builtin = 1').get(vaultId)) return;
  const name = db.prepare('SELECT 1 FROM policies WHERE vault_id = ? AND name = ?').get(vaultId, DEFAULT_POLICY_NAME) ? `${DEFAULT_POLICY_NAME}-${vaultId.slice(0, 8)}` : DEFAULT_POLICY_NAME;
  db.prepare('INSERT INTO policies (id, vault_id, name, builtin, spec, created_at) VALUES (?, ?, ?, 1, ?, ?)').run(
    randomUUID(),
    vaultId,
    name,
    JSON.stringify(DEFAULT_POLICY_SPEC),
    now,
  );
}

interface RowContext {
  db: Db;
  vault: { id: string; region: string };
  report: ReconcileReport;
  /** Connecting the vault: VMs of this install that no vault holds now are registered to it again. */
  connecting: boolean;
  /** Rows adopted by this apply: their recorded protection is pending, not theirs to rewrite yet. */
  adopted: Set<string>;
}

/**
 * The catalog row of the VM a vault object names: the row with the VM's vault key as id (this
 * install's own VM, or one already shown), else a Backup data only item of this vault of the same
 * name, else a new Backup data only item. Its policy is the one the points were taken under.
 */
function vmRowFor(ctx: RowContext, ref: { key: string | undefined; name: string; policyName: string | null }): string {
  const { db, vault, report } = ctx;
  const row = ref.key ? (db.prepare('SELECT * FROM vms WHERE id = ?').get(ref.key) as VmRow | undefined) : undefined;
  if (row && row.vault_id === null) adopt(ctx, row, ref.policyName);
  if (row && (row.vault_id === vault.id || row.vault_id === null)) return row.id;
  // Two VMs may share a name: the name decides only when the vault key cannot (absent, or taken by another vault's VM).
  if (!ref.key || row) {
    const byName = db.prepare('SELECT id FROM vms WHERE vault_id = ? AND source_id IS NULL AND name = ? ORDER BY id LIMIT 1').pluck().get(vault.id, ref.name) as string | undefined;
    if (byName) return byName;
  }
  const id = ref.key && !row ? ref.key : randomUUID();
  const policy = policyIdFor(db, vault.id, ref.policyName);
  db.prepare(
    `INSERT INTO vms (id, source_id, stable_id, name, cloud_service, region, vault_id, registration_state, kind, protection_state, policy_id)
     VALUES (?, NULL, '', ?, '', ?, ?, 'Registered', 'backup', ?, ?)`,
  ).run(id, ref.name, vault.region, vault.id, BackupDataOnlyState, policy);
  report.vmsAdded++;
  return id;
}

/** The policy points were taken under (by name), else the vault's built-in policy. */
function policyIdFor(db: Db, vaultId: string, policyName: string | null): string {
  return (
    (policyName ? (db.prepare('SELECT id FROM policies WHERE vault_id = ? AND name = ?').pluck().get(vaultId, policyName) as string | undefined) : undefined) ??
    (db.prepare('SELECT id FROM policies WHERE vault_id = ? AND builtin = 1').pluck().get(vaultId) as string)
  );
}

/**
 * On connect, a VM a source of this install lists and no vault holds, whose backups are in this
 * vault (disconnected, then connected again): it is registered to the vault again with its
 * protection stopped, so its points show and its recorded protection can be confirmed.
 */
function adopt(ctx: RowContext, row: VmRow, policyName: string | null): boolean {
  if (!ctx.connecting || !row.source_id || row.vault_id !== null || row.region !== ctx.vault.region) return false;
  ctx.db
    .prepare("UPDATE vms SET vault_id = ?, registration_state = 'Registered', protection_state = 'ProtectionStopped', policy_id = ? WHERE id = ? AND vault_id IS NULL")
    .run(ctx.vault.id, policyIdFor(ctx.db, ctx.vault.id, policyName), row.id);
  row.vault_id = ctx.vault.id;
  ctx.adopted.add(row.id);
  return true;
}

export function policyRecordOf(row: Pick<PolicyRow, 'id' | 'name' | 'builtin' | 'spec' | 'created_at'>): PolicyRecord {
  return {
    format: 'coffer-policy',
    version: 1,
    id: row.id,
    name: row.name,
    builtin: row.builtin === 1,
    spec: JSON.parse(row.spec) as Record<string, unknown>,
    created: row.created_at,
    updated: new Date().toISOString(),
  };
}

function protectionRecordOf(vm: VmRow, policyName: string): ProtectionRecord {
  return {
    format: 'coffer-protection',
    version: 1,
    vmKey: vm.id,
    vm: { name: vm.name, cloudService: vm.cloud_service, region: vm.region, kind: vm.kind, stableId: vm.stable_id },
    policyId: vm.policy_id!,
    policyName,
    state: vm.protection_state && ACTIVE.includes(vm.protection_state) ? 'protected' : 'stopped',
    updated: new Date().toISOString(),
  };
}

function sameProtection(a: ProtectionRecord, b: ProtectionRecord): boolean {
  return JSON.stringify({ ...a, updated: '' }) === JSON.stringify({ ...b, updated: '' });
}

/** The protection record this install would write for one VM now, or null when it protects none. */
export function protectionRecordFor(db: Db, vmId: string): { vaultId: string; record: ProtectionRecord } | null {
  const vm = db
    .prepare(
      `SELECT vms.*, policies.name AS policy_name FROM vms JOIN policies ON policies.id = vms.policy_id
       WHERE vms.id = ? AND vms.source_id IS NOT NULL AND vms.vault_id IS NOT NULL AND vms.protection_state IN (${RECORDED.map(() => '?').join(', ')})`,
    )
    .get(vmId, ...RECORDED) as (VmRow & { policy_name: string }) | undefined;
  return vm ? { vaultId: vm.vault_id!, record: protectionRecordOf(vm, vm.policy_name) } : null;
}

/** Rows of the policy a record describes (for writePolicyRecord). */
export function policyRowFor(db: Db, policyId: string): (PolicyRow & { vault_id: string }) | undefined {
  return db.prepare('SELECT * FROM policies WHERE id = ?').get(policyId) as (PolicyRow & { vault_id: string }) | undefined;
}
