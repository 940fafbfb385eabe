import { randomUUID } from 'node:crypto';
import { BackupDataOnlyState, isActiveProtection, vmLabel as label, type Job, type ParsedArgsOf, type PowerState, type ProtectionState, type Source, type Vm } from '../../preload/contract.js';
import type { Db } from './catalog/catalog.js';
import { CofferError } from './errors.js';
import type { EngineEvents } from './events.js';
import type { JobService } from './jobs.js';
import { checkLibvirtUri, createProvider, diskPaths } from './sources/index.js';
import type { DiscoveredVm, VmProvider } from './sources/types.js';
import type { VaultService } from './vaults.js';

interface SourceRow {
  id: string;
  name: string;
  kind: Source['kind'];
  target: string;
  region: string;
  cloud_service_label: string | null;
  state: Source['state'];
  message: string;
  last_scan_at: string | null;
  allowed_roots: string;
  allow_block_devices: number;
}

interface VmRow {
  id: string;
  source_id: string;
  stable_id: string;
  name: string;
  cloud_service: string;
  region: string;
  vault_id: string | null;
  registration_state: string | null;
  kind: string;
  power_state: PowerState;
  definition_path: string | null;
  disks: string;
  guest_agent: number | null;
  problems: string;
  last_seen_at: string | null;
  missing: number;
  protection_state: ProtectionState | null;
  source_name: string | null;
  vault_name: string | null;
}

// A VM without source is a Backup data only item: known from a vault's recovery points alone.
const VM_SELECT = `SELECT vms.*, sources.name AS source_name, vaults.name AS vault_name
  FROM vms LEFT JOIN sources ON sources.id = vms.source_id LEFT JOIN vaults ON vaults.id = vms.vault_id`;

/**
 * Sources, the VMs discovery finds in them, and their registration with vaults (W1..W7, W24).
 * Over 400 lines on purpose for now: one service owns the vms/sources rows (scan upserts,
 * registration, association of backup-data-only items), so each SQL rule about a VM row lives once.
 * The seam for a split is sources (add/edit/remove/scan) vs. registration (register/unregister/associate).
 * Every rule is enforced here, not in a face: the console and the CLI only show the errors.
 */
export class InventoryService {
  /** Tests and future providers may swap how a source becomes a provider. */
  providerFor: (source: Source) => VmProvider = (s) =>
    s.kind === 'folder'
      ? createProvider({ kind: 'folder', path: s.target, allowedRoots: s.allowedRoots, allowBlockDevices: s.allowBlockDevices })
      : s.kind === 'libvirt'
        ? createProvider({ kind: 'libvirt', uri: s.target, ...(s.cloudServiceLabel ? { cloudServiceLabel: s.cloudServiceLabel } : {}) })
        : createProvider({ kind: s.kind });

  constructor(
    private readonly db: Db,
    private readonly events: EngineEvents,
    private readonly jobs: JobService,
    private readonly vaults: VaultService,
  ) {}

  // ---- sources ----

  async addSource(args: ParsedArgsOf<'addSource'>): Promise<Source> {
    if (args.kind === 'libvirt') checkLibvirtUri(args.target);
    const name = args.name ?? defaultSourceName(args.kind, args.target);
    if (this.db.prepare('SELECT 1 FROM sources WHERE name = ?').get(name)) {
      throw new CofferError('SourceNameTaken', `A source named "${name}" already exists.`, { field: 'name' });
    }
    const id = randomUUID();
    this.db
      .prepare('INSERT INTO sources (id, name, kind, target, region, cloud_service_label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, name, args.kind, args.target, args.region, args.cloudServiceLabel ?? null, new Date().toISOString());
    this.db.prepare('UPDATE sources SET allowed_roots = ?, allow_block_devices = ? WHERE id = ?').run(JSON.stringify(args.allowedRoots ?? []), args.allowBlockDevices ? 1 : 0, id);
    const source = this.source(name);
    // A source that cannot be reached is still added: the admin sees why in its status.
    const status = await this.providerFor(source).status();
    this.db.prepare('UPDATE sources SET state = ?, message = ? WHERE id = ?').run(status.state, status.message, id);
    return this.source(name);
  }

  listSources(): Source[] {
    const rows = this.db.prepare('SELECT * FROM sources ORDER BY name COLLATE NOCASE').all() as SourceRow[];
    return rows.map((r) => this.toSource(r));
  }

  showSource(name: string): Source & { vms: Vm[] } {
    const source = this.source(name);
    const vms = (this.db.prepare(`${VM_SELECT} WHERE vms.source_id = ? ORDER BY vms.cloud_service, vms.name`).all(source.id) as VmRow[]).map(toVm);
    return { ...source, vms };
  }

  editSource(args: ParsedArgsOf<'editSource'>): Source {
    const source = this.source(args.name);
    if (args.newName && args.newName.toLowerCase() !== source.name.toLowerCase() && this.db.prepare('SELECT 1 FROM sources WHERE name = ?').get(args.newName)) {
      throw new CofferError('SourceNameTaken', `A source named "${args.newName}" already exists.`, { field: 'newName' });
    }
    if (args.region && args.region !== source.region) {
      const registered = this.db.prepare('SELECT count(*) AS n FROM vms WHERE source_id = ? AND vault_id IS NOT NULL').get(source.id) as { n: number };
      // A vault is region-local (W24): moving registered VMs to another region would break that.
      if (registered.n > 0) {
        throw new CofferError('SourceInUse', `${registered.n} VM(s) of "${source.name}" are registered; their region cannot change.`, { field: 'region' });
      }
    }
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE sources SET name = ?, region = ?, cloud_service_label = ? WHERE id = ?')
        .run(args.newName ?? source.name, args.region ?? source.region, args.cloudServiceLabel === undefined ? source.cloudServiceLabel : args.cloudServiceLabel, source.id);
      if (args.region) this.db.prepare('UPDATE vms SET region = ? WHERE source_id = ?').run(args.region, source.id);
      if (args.allowedRoots) this.db.prepare('UPDATE sources SET allowed_roots = ? WHERE id = ?').run(JSON.stringify(args.allowedRoots), source.id);
      if (args.allowBlockDevices !== undefined) this.db.prepare('UPDATE sources SET allow_block_devices = ? WHERE id = ?').run(args.allowBlockDevices ? 1 : 0, source.id);
    })();
    return this.source(args.newName ?? source.name);
  }

  removeSource(name: string): { name: string; forgottenVms: number } {
    const source = this.source(name);
    const registered = this.db.prepare('SELECT count(*) AS n FROM vms WHERE source_id = ? AND vault_id IS NOT NULL').get(source.id) as { n: number };
    if (registered.n > 0) {
      throw new CofferError('SourceInUse', `${registered.n} VM(s) of "${source.name}" are still registered to a vault.`);
    }
    let forgotten = 0;
    this.db.transaction(() => {
      forgotten = this.db.prepare('DELETE FROM vms WHERE source_id = ?').run(source.id).changes;
      this.db.prepare('DELETE FROM sources WHERE id = ?').run(source.id);
    })();
    return { name: source.name, forgottenVms: forgotten };
  }

  // ---- discovery (W1..W3) ----

  discover(vaultName: string): Job {
    const vault = this.vaults.get(vaultName);
    const running = this.db
      .prepare("SELECT id FROM jobs WHERE operation = 'Discover' AND vault_id = ? AND status IN ('Queued', 'InProgress', 'Cancelling')")
      .get(vault.id) as { id: number } | undefined;
    if (running) {
      throw new CofferError('DiscoveryInProgress', `Discovery for "${vault.name}" is already running (job ${running.id}).`, { jobId: running.id });
    }
    return this.jobs.start('Discover', { vaultId: vault.id, vaultName: vault.name }, async (ctx) => {
      const sources = this.listSources();
      let seen = 0;
      for (const [i, source] of sources.entries()) {
        ctx.signal.throwIfAborted();
        seen += await this.scan(source, ctx.signal);
        ctx.progress({ bytesDone: i + 1, bytesTotal: sources.length });
      }
      // A Backup data only item whose VM a source now lists (same hypervisor id) is that VM again.
      const associated = this.associateByStableId();
      const result = this.discoveryResult(vault.name);
      const unreachable = this.listSources().filter((s) => s.state !== 'reachable');
      for (const s of unreachable) ctx.warn({ code: 'SourceUnreachable', message: `${s.name}: ${s.message}`, subject: s.name, detail: s.message });
      return {
        summary:
          result.candidates.length > 0
            ? { code: 'DiscoveryFound', params: { count: result.candidates.length, region: vault.region } }
            : { code: 'DiscoveryNothing', params: { region: vault.region, seen, ...excludedCounts(result.excluded) } },
        details: { candidates: result.candidates.length, excluded: result.excluded.length, sources: sources.length, associated },
      };
    });
  }

  /** What the last discovery found for a vault, judged by the rules as they stand now. */
  discoveryResult(vaultName: string): { job: Job | null; candidates: Vm[]; excluded: { vm: Vm; reason: 'OtherRegion' | 'AlreadyRegistered' | 'Missing'; detail: string }[] } {
    const vault = this.vaults.get(vaultName);
    const last = this.db
      .prepare("SELECT id FROM jobs WHERE operation = 'Discover' AND vault_id = ? ORDER BY id DESC LIMIT 1")
      .get(vault.id) as { id: number } | undefined;
    const candidates: Vm[] = [];
    const excluded: { vm: Vm; reason: 'OtherRegion' | 'AlreadyRegistered' | 'Missing'; detail: string }[] = [];
    for (const vm of this.allVms()) {
      if (isBackupDataOnly(vm)) continue; // not seen by any source: nothing to register
      if (vm.missing) excluded.push({ vm, reason: 'Missing', detail: `not found in source ${vm.sourceName} at the last scan` });
      else if (vm.vaultName) excluded.push({ vm, reason: 'AlreadyRegistered', detail: `registered to vault ${vm.vaultName}` });
      else if (vm.region !== vault.region) excluded.push({ vm, reason: 'OtherRegion', detail: `in region ${vm.region}, the vault is in ${vault.region}` });
      else candidates.push(vm);
    }
    return { job: last ? this.jobs.get(last.id) : null, candidates, excluded };
  }

  /** Lists one source and updates the catalog; returns how many VMs it reported. */
  private async scan(source: Source, signal: AbortSignal): Promise<number> {
    const provider = this.providerFor(source);
    const now = new Date().toISOString();
    const status = await provider.status();
    let found: DiscoveredVm[] = [];
    let state = status.state;
    let message = status.message;
    if (status.state === 'reachable') {
      try {
        found = await provider.list(signal);
      } catch (e) {
        state = 'unreachable';
        message = (e as Error).message;
      }
    }
    this.db.transaction(() => {
      this.db.prepare('UPDATE sources SET state = ?, message = ?, last_scan_at = ? WHERE id = ?').run(state, message, now, source.id);
      // Only a source that answered can say a VM is gone; an unreachable one changes nothing.
      if (state !== 'reachable') return;
      const upsert = this.db.prepare(`
        INSERT INTO vms (id, source_id, stable_id, name, cloud_service, region, kind, power_state, definition_path, disks, guest_agent, problems, last_seen_at, missing, approved_disk_paths)
        VALUES (@id, @source_id, @stable_id, @name, @cloud_service, @region, @kind, @power_state, @definition_path, @disks, @guest_agent, @problems, @now, 0, @disk_paths)
        ON CONFLICT (source_id, stable_id) DO UPDATE SET name = excluded.name, cloud_service = excluded.cloud_service,
          region = excluded.region, kind = excluded.kind, power_state = excluded.power_state, definition_path = excluded.definition_path,
          disks = excluded.disks, guest_agent = excluded.guest_agent, problems = excluded.problems, last_seen_at = excluded.last_seen_at, missing = 0,
          approved_disk_paths = COALESCE(vms.approved_disk_paths, excluded.approved_disk_paths)`);
      // A VM whose label changes (its folder now holds a second VM, say) keeps the old one as an alias.
      const before = new Map((this.db.prepare('SELECT id, stable_id, name, cloud_service FROM vms WHERE source_id = ?').all(source.id) as { id: string; stable_id: string; name: string; cloud_service: string }[]).map((r) => [r.stable_id, r]));
      const alias = this.db.prepare('INSERT OR IGNORE INTO vm_label_aliases (vm_id, cloud_service, name) VALUES (?, ?, ?)');
      for (const vm of found) {
        const was = before.get(vm.stableId);
        upsert.run({
          id: randomUUID(),
          source_id: source.id,
          stable_id: vm.stableId,
          name: vm.name,
          cloud_service: source.kind === 'folder' ? vm.cloudService : (source.cloudServiceLabel ?? vm.cloudService),
          region: source.region,
          kind: vm.kind,
          power_state: vm.powerState,
          definition_path: vm.definitionPath ?? null,
          disks: JSON.stringify(vm.disks),
          guest_agent: vm.guestAgent === undefined ? null : vm.guestAgent ? 1 : 0,
          problems: JSON.stringify(vm.problems),
          now,
          // The paths first seen are the approved ones; diskPathChanges(approved, disks) tells what moved since.
          disk_paths: JSON.stringify(diskPaths(vm.disks)),
        });
        if (was && (was.cloud_service !== vm.cloudService || was.name !== vm.name) && source.kind === 'folder') alias.run(was.id, was.cloud_service, was.name);
      }
      const seen = new Set(found.map((v) => v.stableId));
      const known = this.db.prepare('SELECT id, stable_id, vault_id FROM vms WHERE source_id = ?').all(source.id) as { id: string; stable_id: string; vault_id: string | null }[];
      for (const k of known) {
        if (seen.has(k.stable_id)) continue;
        // A registered VM that vanished stays (its points are kept) and is marked missing; others are forgotten.
        if (k.vault_id) this.db.prepare('UPDATE vms SET missing = 1 WHERE id = ?').run(k.id);
        else this.db.prepare('DELETE FROM vms WHERE id = ?').run(k.id);
      }
    })();
    return found.length;
  }

  // ---- registration (W4..W7) ----

  listVms(args: ParsedArgsOf<'listVms'>): Vm[] {
    let vms = this.allVms();
    if (args.vault) {
      const id = this.vaults.idOf(args.vault);
      vms = vms.filter((v) => this.vaultIdOf(v) === id);
    }
    if (args.registered !== undefined) vms = vms.filter((v) => (v.vaultName !== null) === args.registered);
    return vms;
  }

  register(vaultName: string, refs: string[]): Job[] {
    const vault = this.vaults.get(vaultName);
    // Check every VM before starting anything: a refused call changes nothing.
    const vms = this.resolveAll(refs, this.allVms());
    for (const vm of vms) assertRegistrable(vm, vault);
    const claimed: Vm[] = [];
    this.db.transaction(() => {
      const claim = this.db.prepare("UPDATE vms SET vault_id = ?, registration_state = 'Registering' WHERE id = ? AND vault_id IS NULL");
      for (const vm of vms) {
        // The claim is conditional so two consoles (or a double click) cannot register one VM twice.
        if (claim.run(vault.id, vm.id).changes !== 1) throw new CofferError('VmAlreadyRegistered', `The VM ${label(vm)} was registered meanwhile.`);
        claimed.push(vm);
      }
    })();
    this.events.emit('vaultsChanged', { names: [vault.name] });
    // Each job checks that its VM still exists; the VMs of one call share one listing per source.
    const listings = new Map<string, Promise<DiscoveredVm[]>>();
    const listing = (source: Source, signal: AbortSignal): Promise<DiscoveredVm[]> => {
      let l = listings.get(source.id);
      if (!l) listings.set(source.id, (l = this.providerFor(source).list(signal)));
      return l;
    };
    return claimed.map((vm) =>
      this.jobs.start('Register', { vaultId: vault.id, vaultName: vault.name, vmId: vm.id, vmName: vm.name, cloudService: vm.cloudService }, async (ctx) => {
        try {
          const source = this.listSources().find((s) => s.name === vm.sourceName);
          const present = source ? (await listing(source, ctx.signal)).some((d) => d.stableId === this.stableIdOf(vm.id)) : false;
          if (!present) throw new CofferError('VmNotFound', `The VM ${label(vm)} is no longer in source ${vm.sourceName}.`);
        } catch (e) {
          this.db.prepare('UPDATE vms SET vault_id = NULL, registration_state = NULL WHERE id = ?').run(vm.id);
          this.events.emit('vaultsChanged', { names: [vault.name] });
          throw e;
        }
        this.db.prepare("UPDATE vms SET registration_state = 'Registered' WHERE id = ?").run(vm.id);
        this.events.emit('vaultsChanged', { names: [vault.name] });
        return { summary: { code: 'VmRegistered', params: { vm: label(vm), vault: vault.name } } };
      }),
    );
  }

  unregister(vaultName: string, refs: string[]): Job[] {
    const vault = this.vaults.get(vaultName);
    const vaultId = vault.id;
    const vms = this.resolveAll(refs, this.allVms().filter((v) => this.vaultIdOf(v) === vaultId));
    for (const vm of vms) {
      if (isBackupDataOnly(vm)) {
        throw new CofferError('VmIsProtected', `${label(vm)} holds backup data only; delete its backup data instead (stop protection, deleting data).`, { vm: vm.id });
      }
      // A protected VM keeps its registration: stop protection first (W22).
      if (isActiveProtection(vm.protectionState)) {
        throw new CofferError('VmIsProtected', `The VM ${label(vm)} is protected (${vm.protectionState}).`, { vm: vm.id });
      }
    }
    return vms.map((vm) =>
      this.jobs.start('Unregister', { vaultId, vaultName: vault.name, vmId: vm.id, vmName: vm.name, cloudService: vm.cloudService }, async () => {
        this.db.prepare('UPDATE vms SET vault_id = NULL, registration_state = NULL, protection_state = NULL WHERE id = ? AND vault_id = ?').run(vm.id, vaultId);
        // A VM that vanished from its source has nothing left to register: forget it.
        if (vm.missing) this.db.prepare('DELETE FROM vms WHERE id = ?').run(vm.id);
        this.events.emit('vaultsChanged', { names: [vault.name] });
        return { summary: { code: 'VmUnregistered', params: { vm: label(vm), vault: vault.name } } };
      }),
    );
  }

  // ---- Backup data only items (issue 11) ----

  /**
   * Joins a Backup data only item with the VM a source lists: the listed VM takes the item's id
   * (its key in the vault, carried by every manifest), so its points, policy and recorded
   * protection are the VM's again. Protection stays stopped until the admin resumes or confirms it.
   */
  associate(itemRef: string, vmRef: string): Vm {
    const item = this.resolve(itemRef, this.allVms().filter(isBackupDataOnly));
    const vm = this.resolve(vmRef, this.allVms().filter((v) => !isBackupDataOnly(v)));
    assertRegistrable(vm, { name: item.vaultName ?? '', region: item.region });
    this.merge(item.id, vm.id);
    this.events.emit('vaultsChanged', { names: [item.vaultName!] });
    this.events.emit('protectionChanged', {});
    return this.resolve(item.id);
  }

  /** Associates every Backup data only item whose recorded hypervisor id a source lists; returns how many. */
  private associateByStableId(): number {
    const pairs = this.db
      .prepare(
        `SELECT item.id AS item, vm.id AS vm FROM vms item JOIN vms vm ON vm.stable_id = item.stable_id AND vm.region = item.region
         WHERE item.source_id IS NULL AND item.protection_state = ? AND item.stable_id <> ''
           AND vm.source_id IS NOT NULL AND vm.vault_id IS NULL AND vm.missing = 0`,
      )
      .all(BackupDataOnlyState) as { item: string; vm: string }[];
    const used = new Set<string>();
    let n = 0;
    for (const p of pairs) {
      if (used.has(p.item) || used.has(p.vm)) continue; // one VM per item, first match
      used.add(p.item).add(p.vm);
      this.merge(p.item, p.vm);
      n++;
    }
    if (n) this.events.emit('protectionChanged', {});
    return n;
  }

  /** The listed VM's row goes; the item's row takes its source facts and keeps id, vault, policy, points. */
  private merge(itemId: string, vmId: string): void {
    this.db.transaction(() => {
      const vm = this.db.prepare('SELECT * FROM vms WHERE id = ?').get(vmId) as VmRow;
      this.db.prepare('DELETE FROM vms WHERE id = ?').run(vmId);
      this.db
        .prepare(
          `UPDATE vms SET source_id = ?, stable_id = ?, name = ?, cloud_service = ?, region = ?, kind = ?, power_state = ?, definition_path = ?,
           disks = ?, guest_agent = ?, problems = ?, last_seen_at = ?, missing = 0, protection_state = 'ProtectionStopped' WHERE id = ?`,
        )
        .run(vm.source_id, vm.stable_id, vm.name, vm.cloud_service, vm.region, vm.kind, vm.power_state, vm.definition_path, vm.disks, vm.guest_agent, vm.problems, vm.last_seen_at, itemId);
    })();
  }

  /**
   * Resumes the protections recorded in a vault (by another install, or this one before a
   * rebuild): each VM gets its recorded policy and is scheduled again. A VM no source lists yet
   * cannot be backed up, so it is refused (VmBackupDataOnly) and nothing changes.
   */
  confirmProtections(vaultName: string, refs?: string[]): Vm[] {
    const vault = this.vaults.get(vaultName);
    const pending = this.db.prepare('SELECT id FROM vms WHERE vault_id = ? AND pending_policy_id IS NOT NULL').pluck().all(vault.id) as string[];
    const among = this.allVms().filter((v) => pending.includes(v.id));
    const vms = refs ? this.resolveAll(refs, among) : among;
    for (const vm of vms) {
      if (isBackupDataOnly(vm)) throw new CofferError('VmBackupDataOnly', `No source of this install lists ${label(vm)}; associate it with its VM first.`, { vm: vm.id });
    }
    const now = new Date().toISOString();
    this.db.transaction(() => {
      for (const vm of vms) {
        const hasPoints = this.db.prepare('SELECT 1 FROM points WHERE vm_id = ?').get(vm.id) !== undefined;
        this.db
          .prepare('UPDATE vms SET policy_id = pending_policy_id, pending_policy_id = NULL, protection_state = ?, protected_at = ?, last_attempt_at = NULL WHERE id = ?')
          .run(hasPoints ? 'Protected' : 'ProtectedPendingInitialBackup', now, vm.id);
      }
    })();
    if (vms.length) this.events.emit('protectionChanged', {});
    return vms.map((vm) => this.resolve(vm.id));
  }

  /** Resolves a VM by id, name, or cloudservice/name; an ambiguous name lists the candidates. */
  resolve(ref: string, among: Vm[] = this.allVms()): Vm {
    const byId = among.find((v) => v.id === ref);
    if (byId) return byId;
    const matches = this.matching(ref, among);
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) throw new CofferError('VmNotFound', `No VM named "${ref}".`, { ref });
    const names = matches.map(label);
    throw new CofferError('VmAmbiguous', `Several VMs are named "${ref}": ${names.join(', ')}.`, { ref, candidates: names });
  }

  /**
   * The VMs a reference names (id, name, or cloudservice/name); when none does, the VMs that had
   * this `cloudservice/name` before catalog migration 8 relabelled them (lab/web01/web01 is lab/web01).
   */
  matching(ref: string, among: Vm[] = this.allVms()): Vm[] {
    const direct = among.filter((v) => vmMatches(v, ref));
    const slash = ref.lastIndexOf('/');
    if (direct.length > 0 || slash <= 0) return direct;
    const former = new Set(this.db.prepare('SELECT vm_id FROM vm_label_aliases WHERE cloud_service = ? AND name = ?').pluck().all(ref.slice(0, slash), ref.slice(slash + 1)) as string[]);
    return among.filter((v) => former.has(v.id));
  }

  private resolveAll(refs: string[], among: Vm[]): Vm[] {
    const out = new Map<string, Vm>();
    for (const ref of refs) {
      const vm = this.resolve(ref, among);
      out.set(vm.id, vm);
    }
    return [...out.values()];
  }

  allVms(): Vm[] {
    return (this.db.prepare(`${VM_SELECT} ORDER BY vms.name, vms.cloud_service`).all() as VmRow[]).map(toVm);
  }

  private vaultIdOf(vm: Vm): string | null {
    return (this.db.prepare('SELECT vault_id FROM vms WHERE id = ?').get(vm.id) as { vault_id: string | null } | undefined)?.vault_id ?? null;
  }

  private stableIdOf(vmId: string): string | undefined {
    return (this.db.prepare('SELECT stable_id FROM vms WHERE id = ?').get(vmId) as { stable_id: string } | undefined)?.stable_id;
  }

  private source(name: string): Source {
    const row = this.db.prepare('SELECT * FROM sources WHERE name = ?').get(name) as SourceRow | undefined;
    if (!row) throw new CofferError('SourceNotFound', `No source named "${name}".`, { name });
    return this.toSource(row);
  }

  private toSource(r: SourceRow): Source {
    const n = this.db.prepare('SELECT count(*) AS n FROM vms WHERE source_id = ? AND missing = 0').get(r.id) as { n: number };
    return {
      id: r.id,
      name: r.name,
      kind: r.kind,
      target: r.target,
      region: r.region,
      cloudServiceLabel: r.cloud_service_label,
      state: r.state,
      message: r.message,
      lastScanAt: r.last_scan_at,
      vmCount: n.n,
      allowedRoots: JSON.parse(r.allowed_roots) as string[],
      allowBlockDevices: r.allow_block_devices === 1,
    };
  }
}

/** A VM can join a vault when its source still lists it, no vault holds it and it is in the vault's region. */
function assertRegistrable(vm: Vm, vault: { name: string; region: string }): void {
  if (vm.missing) throw new CofferError('VmNotFound', `The VM ${label(vm)} was not found in its source at the last discovery.`, { vm: vm.id });
  if (vm.vaultName) {
    throw new CofferError('VmAlreadyRegistered', `The VM ${label(vm)} is already registered to vault ${vm.vaultName}.`, { vm: vm.id, vault: vm.vaultName });
  }
  if (vm.region !== vault.region) {
    throw new CofferError('VmNotInVaultRegion', `The VM ${label(vm)} is in region ${vm.region}; vault ${vault.name} is in ${vault.region}.`, {
      vm: vm.id,
      vmRegion: vm.region,
      vaultRegion: vault.region,
    });
  }
}

function toVm(r: VmRow): Vm {
  return {
    id: r.id,
    name: r.name,
    cloudService: r.cloud_service,
    region: r.region,
    sourceName: r.source_name ?? '',
    kind: r.kind,
    powerState: r.power_state,
    definitionPath: r.definition_path,
    disks: JSON.parse(r.disks) as Vm['disks'],
    guestAgent: r.guest_agent === null ? null : r.guest_agent === 1,
    problems: JSON.parse(r.problems) as string[],
    vaultName: r.vault_name,
    registrationState: r.vault_id ? (r.registration_state === 'Registering' ? 'Registering' : 'Registered') : 'NotRegistered',
    protectionState: r.protection_state,
    missing: r.missing === 1,
    lastSeenAt: r.last_seen_at,
  };
}

/** A VM known only from a vault's recovery points: no source of this install lists it. */
export function isBackupDataOnly(vm: Pick<Vm, 'protectionState'>): boolean {
  return vm.protectionState === BackupDataOnlyState;
}

/** Whether a user's reference names this VM: its id, its name, or `cloudservice/name`. */
export function vmMatches(vm: Pick<Vm, 'id' | 'name' | 'cloudService'>, ref: string): boolean {
  if (vm.id === ref) return true;
  const slash = ref.lastIndexOf('/');
  return slash > 0 ? vm.cloudService === ref.slice(0, slash) && vm.name === ref.slice(slash + 1) : vm.name === ref;
}

/** How a VM is named in messages: the contract's one vmLabel. */
export { label };

function defaultSourceName(kind: Source['kind'], target: string): string {
  // A hypervisor of this machine has no target: its kind is name enough.
  if (!target) return kind;
  const base = target.replace(/[/\\]+$/, '').split(/[/\\:]+/).filter(Boolean).pop() ?? kind;
  return `${kind}-${base}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
}

/** Why the VMs a discovery saw cannot be registered, counted per reason, and the vaults that already hold some (the DiscoveryNothing message). */
function excludedCounts(excluded: { reason: string; vm: Pick<Vm, 'vaultName'> }[]): {
  otherRegion: number;
  alreadyRegistered: number;
  missing: number;
  registeredTo: string[];
} {
  const count = (r: string): number => excluded.filter((e) => e.reason === r).length;
  const registeredTo = [...new Set(excluded.filter((e) => e.reason === 'AlreadyRegistered').flatMap((e) => (e.vm.vaultName ? [e.vm.vaultName] : [])))].sort();
  return { otherRegion: count('OtherRegion'), alreadyRegistered: count('AlreadyRegistered'), missing: count('Missing'), registeredTo };
}
