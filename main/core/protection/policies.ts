import { randomUUID } from 'node:crypto';
import type { Policy, Vm } from '../../../preload/contract.js';
import { CofferError } from '../errors.js';
import { describePolicy, MAX_POINTS_PER_VM, maxPointsKept, type PolicySpec } from '../policy/spec.js';
import type { ProtectionContext } from './context.js';

interface PolicyRow {
  id: string;
  vault_id: string;
  name: string;
  builtin: number;
  spec: string;
}

/** Backup policies of a vault (W8, W10..W12): create, edit, delete, and which policy a VM has. */
export class PolicyService {
  constructor(private readonly ctx: ProtectionContext) {}

  list(vaultName: string): Policy[] {
    const vaultId = this.ctx.vaults.idOf(vaultName);
    const rows = this.ctx.db.prepare('SELECT * FROM policies WHERE vault_id = ? ORDER BY builtin DESC, name COLLATE NOCASE').all(vaultId) as PolicyRow[];
    return rows.map((r) => this.toPolicy(r));
  }

  show(vaultName: string, name: string): Policy & { vms: Vm[] } {
    const row = this.row(vaultName, name);
    const ids = new Set((this.ctx.db.prepare('SELECT id FROM vms WHERE policy_id = ?').all(row.id) as { id: string }[]).map((r) => r.id));
    return { ...this.toPolicy(row), vms: this.ctx.inventory.allVms().filter((v) => ids.has(v.id)) };
  }

  /** Creates a policy and writes its record to the vault, so every install connected to it sees it. */
  async create(vaultName: string, name: string, spec: PolicySpec): Promise<Policy> {
    const policy = this.add(vaultName, name, spec);
    await this.publish(policy.id);
    return policy;
  }

  /** The catalog half of create (the protect wizard's new policy); publish() writes the record. */
  add(vaultName: string, name: string, spec: PolicySpec): Policy {
    const vaultId = this.ctx.vaults.idOf(vaultName);
    if (this.ctx.db.prepare('SELECT 1 FROM policies WHERE vault_id = ? AND name = ?').get(vaultId, name)) {
      throw new CofferError('PolicyNameTaken', `The vault already has a policy named "${name}".`, { field: 'name' });
    }
    checkPointLimit(spec);
    this.ctx.db
      .prepare('INSERT INTO policies (id, vault_id, name, builtin, spec, created_at) VALUES (?, ?, ?, 0, ?, ?)')
      .run(randomUUID(), vaultId, name, JSON.stringify(spec), new Date().toISOString());
    this.ctx.changed();
    return this.get(vaultName, name);
  }

  /** Applies at once to every VM of the policy: a shorter retention prunes at the next cleanup. */
  async edit(vaultName: string, name: string, spec: PolicySpec): Promise<Policy> {
    const row = this.row(vaultName, name);
    checkPointLimit(spec);
    this.ctx.db.prepare('UPDATE policies SET spec = ? WHERE id = ?').run(JSON.stringify(spec), row.id);
    this.ctx.changed();
    await this.publish(row.id);
    return this.get(vaultName, name);
  }

  /**
   * Writes a policy's record to its vault now. A failure (storage away) is not the user's edit
   * failing: the catalog holds the change, and the next reconcile of the vault writes it.
   */
  async publish(policyId: string): Promise<void> {
    await this.ctx.vaults.writePolicyRecord(policyId).catch(() => false);
  }

  async delete(vaultName: string, name: string): Promise<{ name: string }> {
    const row = this.row(vaultName, name);
    if (row.builtin) throw new CofferError('PolicyBuiltIn', `${row.name} is the vault's built-in policy and cannot be deleted.`);
    const users = this.ctx.db.prepare('SELECT name FROM vms WHERE policy_id = ? ORDER BY name').all(row.id) as { name: string }[];
    if (users.length) {
      throw new CofferError('PolicyInUse', `The policy ${row.name} protects ${users.map((u) => u.name).join(', ')}.`, { vms: users.map((u) => u.name) });
    }
    this.ctx.db.prepare('DELETE FROM policies WHERE id = ?').run(row.id);
    this.ctx.changed();
    // As with publish(): the next reconcile removes the record if this cannot.
    await this.ctx.vaults.deletePolicyRecord(row.vault_id, row.id).catch(() => false);
    return { name: row.name };
  }

  get(vaultName: string, name: string): Policy {
    return this.toPolicy(this.row(vaultName, name));
  }

  /** The policy a VM is protected with. */
  ofVm(vmId: string): Policy {
    const row = this.ctx.db.prepare('SELECT policies.* FROM policies JOIN vms ON vms.policy_id = policies.id WHERE vms.id = ?').get(vmId) as PolicyRow | undefined;
    if (!row) throw new CofferError('VmNotProtected', 'The VM has no policy.');
    return this.toPolicy(row);
  }

  private row(vaultName: string, name: string): PolicyRow {
    const vaultId = this.ctx.vaults.idOf(vaultName);
    const row = this.ctx.db.prepare('SELECT * FROM policies WHERE vault_id = ? AND name = ?').get(vaultId, name) as PolicyRow | undefined;
    if (!row) throw new CofferError('PolicyNotFound', `The vault has no policy named "${name}".`, { name });
    return row;
  }

  private toPolicy(r: PolicyRow): Policy {
    const spec = JSON.parse(r.spec) as PolicySpec;
    const vmCount = (this.ctx.db.prepare('SELECT count(*) AS n FROM vms WHERE policy_id = ?').get(r.id) as { n: number }).n;
    return { id: r.id, name: r.name, builtin: r.builtin === 1, ...spec, description: describePolicy(spec), vmCount };
  }
}

/** A policy that could hold more points per VM than the limit is refused up front. */
function checkPointLimit(spec: PolicySpec): void {
  const most = maxPointsKept(spec);
  if (most > MAX_POINTS_PER_VM) {
    throw new CofferError(
      'RecoveryPointLimitReached',
      `This policy could keep up to ${most} recovery points per VM; the limit is ${MAX_POINTS_PER_VM}.`,
      { field: 'retention', most },
      'Shorten a retention tier or take fewer backups a day.',
    );
  }
}
