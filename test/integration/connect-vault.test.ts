import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../main/core/engine.js';
import { LocalFolderStore } from '../../main/core/vault/local-store.js';
import { Vault } from '../../main/core/vault/vault.js';
import type { Router } from '../../main/rpc/router.js';
import { errorOf, unwrap } from '../helpers/cli.js';
import { useEngines } from '../helpers/engine.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const install = useEngines();

const PASS = 'correct horse battery';
const UUID = '7a1b2c3d-1111-4222-8333-444455556666';
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');


/** A libvirt VM as a folder source holds it: definition with a UUID and a raw disk with data. */
function makeVm(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const disk = path.join(dir, 'web01.img');
  fs.writeFileSync(disk, randomBytes(512 * 1024));
  fs.writeFileSync(
    path.join(dir, 'web01.xml'),
    `<domain type='kvm'><name>web01</name><uuid>${UUID}</uuid><memory unit='MiB'>256</memory>
      <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='web01.img'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
  );
  return disk;
}

async function waitAll(engine: Engine, jobs: { id: number }[], status = 'Completed') {
  for (const j of jobs) {
    const done = await engine.jobs.wait(j.id);
    expect(done.status, JSON.stringify(done.error)).toBe(status);
  }
}

/** Install A: a source, a vault, the VM registered, protected with Gold and backed up once. */
async function installA(dir: string) {
  const disk = makeVm(path.join(dir, 'hypervisor', 'shop'));
  const vaultDir = path.join(dir, 'vault');
  const a = install(path.join(dir, 'data-a'));
  unwrap(await a.router.invoke('createVault', { name: 'vault-ams', region: 'lab-amsterdam', path: vaultDir, passphrase: PASS }));
  unwrap(await a.router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'hypervisor'), region: 'lab-amsterdam', name: 'lab' }));
  await waitAll(a.engine, [unwrap(await a.router.invoke('discoverVms', { vault: 'vault-ams' }))]);
  await waitAll(a.engine, unwrap(await a.router.invoke('registerVms', { vault: 'vault-ams', vms: ['shop/web01'] })));
  unwrap(await a.router.invoke('createPolicy', { vault: 'vault-ams', name: 'Gold', spec: { schedule: { kind: 'daily', times: ['21:00'] }, retention: { dailyDays: 14 } } }));
  await waitAll(a.engine, unwrap(await a.router.invoke('protectVms', { vault: 'vault-ams', vms: ['web01'], policy: 'Gold' })));
  await waitAll(a.engine, unwrap(await a.router.invoke('backupNow', { vms: ['web01'] })));
  return { ...a, disk, vaultDir, diskAtBackup: sha256(disk) };
}

function catalogCounts(engine: Engine): Record<string, number> {
  const n = (table: string) => engine.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  return { vaults: n('vaults'), policies: n('policies'), points: n('points'), vms: n('vms') };
}

describe('connect an existing vault from a new install', () => {
  it('shows the region, the policies, every point and the VM as Backup data only, and restores byte-identical', async () => {
    const dir = tmp();
    const a = await installA(dir);
    const [pointA] = unwrap(await a.router.invoke('listPoints', { vm: 'web01' }));

    // Install B: a new data folder that has never seen the vault, under another local name.
    const b = install(path.join(dir, 'data-b'));
    const connected = unwrap(await b.router.invoke('connectVault', { name: 'dr-vault', path: a.vaultDir, passphrase: PASS }));
    expect(connected).toMatchObject({ name: 'dr-vault', region: 'lab-amsterdam', unlocked: true, pointCount: 1, backupDataOnlyVms: ['web01'] });
    expect(connected.pendingProtections).toEqual([expect.objectContaining({ vmName: 'web01', cloudService: 'shop', policy: 'Gold', backupDataOnly: true })]);
    expect(unwrap(await b.router.invoke('listVaults', {})).map((v) => [v.name, v.region])).toEqual([['dr-vault', 'lab-amsterdam']]);

    const policies = unwrap(await b.router.invoke('listPolicies', { vault: 'dr-vault' }));
    expect(policies.map((p) => [p.name, p.builtin, p.description])).toEqual([
      ['DefaultPolicy', true, 'Daily at 22:00; keep daily 30 days'],
      ['Gold', false, 'Daily at 21:00; keep daily 14 days'],
    ]);
    // Same ids in both installs: the policies are the vault's.
    const policiesA = unwrap(await a.router.invoke('listPolicies', { vault: 'vault-ams' }));
    expect(policies.map((p) => p.id).sort()).toEqual(policiesA.map((p) => p.id).sort());

    const [vm] = unwrap(await b.router.invoke('listVms', { vault: 'dr-vault' }));
    expect(vm).toMatchObject({ name: 'web01', cloudService: 'shop', sourceName: '', protectionState: 'BackupDataOnly', registrationState: 'Registered', vaultName: 'dr-vault' });
    const points = unwrap(await b.router.invoke('listPoints', { vm: 'web01' }));
    // The same instant; how it was chosen is known only where the backup ran (the vault holds the date).
    expect(points.map((p) => ({ ...p, keptBy: [] }))).toEqual([
      { ...pointA!, keptBy: [], addedBytes: points[0]!.addedBytes, keptUntil: { until: pointA!.keptUntil!.until, basis: { kind: 'unknown' } } },
    ]);

    const target = path.join(dir, 'restored');
    await waitAll(b.engine, [unwrap(await b.router.invoke('restorePoint', { vm: 'web01', pointId: pointA!.id, mode: 'disks', targetDir: target }))]);
    expect(sha256(path.join(target, 'web01.img'))).toBe(a.diskAtBackup);
    const asNew = path.join(dir, 'as-new');
    await waitAll(b.engine, [unwrap(await b.router.invoke('restorePoint', { vm: 'web01', pointId: pointA!.id, mode: 'newVm', newName: 'web01-dr', targetDir: asNew }))]);
    expect(fs.readFileSync(path.join(asNew, 'web01.xml'), 'utf8')).toContain('<name>web01-dr</name>');
    await waitAll(b.engine, [unwrap(await b.router.invoke('verifyVault', { vault: 'dr-vault', full: true }))]);

    // The same vault again, under any name, is refused by its id.
    const again = errorOf(await b.router.invoke('connectVault', { name: 'dr-vault-2', path: a.vaultDir, passphrase: PASS }));
    expect(again.code).toBe('VaultAlreadyConnected');
    expect(again.message).toContain('"dr-vault"');
    expect(again.remedy).toMatch(/disconnect/i);

    // B's catalog survives a restart with all of it.
    await b.engine.close();
    const b2 = install(path.join(dir, 'data-b'));
    unwrap(await b2.router.invoke('unlockVault', { name: 'dr-vault', passphrase: PASS }));
    expect(unwrap(await b2.router.invoke('listPoints', { vm: 'web01' })).map((p) => p.id)).toEqual([pointA!.id]);
  });

  it('refuses a wrong passphrase and a folder without a vault, writing nothing to the catalog', async () => {
    const dir = tmp();
    const a = await installA(dir);
    const c = install(path.join(dir, 'data-c'));
    const before = catalogCounts(c.engine);
    const wrong = errorOf(await c.router.invoke('connectVault', { name: 'dr-vault', path: a.vaultDir, passphrase: 'not the passphrase' }));
    expect(wrong.code).toBe('WrongPassphrase');
    expect(catalogCounts(c.engine)).toEqual(before);
    expect(catalogCounts(c.engine)).toEqual({ vaults: 0, policies: 0, points: 0, vms: 0 });
    const none = errorOf(await c.router.invoke('connectVault', { name: 'dr-vault', path: path.join(dir, 'hypervisor'), passphrase: PASS }));
    expect(none.code).toBe('VaultNotFound');
    expect(catalogCounts(c.engine)).toEqual(before);
  });

  it('disconnects (refused while a job runs), keeps the data, and connects again', async () => {
    const dir = tmp();
    const a = await installA(dir);
    const [job] = unwrap(await a.router.invoke('backupNow', { vms: ['web01'] }));
    const busy = errorOf(await a.router.invoke('disconnectVault', { name: 'vault-ams' }));
    expect(busy.code).toBe('VaultJobsRunning');
    await waitAll(a.engine, [job!]);
    const objectsBefore = fs.readdirSync(path.join(a.vaultDir, 'points')).sort();
    expect(unwrap(await a.router.invoke('disconnectVault', { name: 'vault-ams' }))).toEqual({ name: 'vault-ams', location: a.vaultDir });
    expect(unwrap(await a.router.invoke('listVaults', {}))).toEqual([]);
    expect(fs.readdirSync(path.join(a.vaultDir, 'points')).sort()).toEqual(objectsBefore);
    const [vm] = unwrap(await a.router.invoke('listVms', {}));
    expect(vm).toMatchObject({ name: 'web01', vaultName: null, registrationState: 'NotRegistered', protectionState: null });

    // Connected again: the VM the source lists is the same VM (same id), its protection waits for the admin.
    const back = unwrap(await a.router.invoke('connectVault', { name: 'vault-ams', path: a.vaultDir, passphrase: PASS }));
    expect(back.pointCount).toBe(2);
    expect(back.backupDataOnlyVms).toEqual([]);
    expect(back.pendingProtections).toEqual([expect.objectContaining({ vmName: 'web01', policy: 'Gold', backupDataOnly: false })]);
    expect(unwrap(await a.router.invoke('listPoints', { vm: 'web01' }))).toHaveLength(2);
  });
});

describe('the catalog follows the vault', () => {
  it('drops points another install pruned, adds points it made, and a point whose catalog row a crash lost', async () => {
    const dir = tmp();
    const a = await installA(dir);
    const b = install(path.join(dir, 'data-b'));
    unwrap(await b.router.invoke('connectVault', { name: 'dr-vault', path: a.vaultDir, passphrase: PASS }));

    // A adds a point: B reconciles (as after each job, or on opening the vault) and lists it.
    await waitAll(a.engine, unwrap(await a.router.invoke('backupNow', { vms: ['web01'] })));
    const twoA = unwrap(await a.router.invoke('listPoints', { vm: 'web01' }));
    expect(twoA).toHaveLength(2);
    const report = await b.engine.vaults.reconcileVault(b.engine.vaults.idOf('dr-vault'));
    expect(report).toMatchObject({ pointsAdded: 1, pointsRemoved: 0, complete: true });
    expect(unwrap(await b.router.invoke('listPoints', { vm: 'web01' })).map((p) => p.id)).toEqual(twoA.map((p) => p.id));
    // Known points are not read again.
    expect(await b.engine.vaults.reconcileVault(b.engine.vaults.idOf('dr-vault'))).toMatchObject({ pointsAdded: 0, pointsRemoved: 0 });

    // A prunes its oldest point; B reopens (a restart, then unlock) and no longer lists it.
    const oldest = twoA[1]!.id;
    await (await a.engine.vaults.openVault('vault-ams')).prune([oldest]);
    await b.engine.close();
    const b2 = install(path.join(dir, 'data-b'));
    unwrap(await b2.router.invoke('unlockVault', { name: 'dr-vault', passphrase: PASS }));
    expect(unwrap(await b2.router.invoke('listPoints', { vm: 'web01' })).map((p) => p.id)).toEqual([twoA[0]!.id]);

    // A crash between manifest and catalog: a manifest is in the vault, the catalog row never written.
    const vmId = unwrap(await a.router.invoke('listVms', { vault: 'vault-ams' }))[0]!.id;
    const raw = await Vault.open(new LocalFolderStore(a.vaultDir), PASS);
    const orphan = await raw.backup({ vmName: 'web01', vmId, disks: [{ name: 'web01.img', path: a.disk }], consistency: 'offline', retainUntil: null, policy: 'Gold' });
    await raw.close();
    expect(a.engine.db.prepare('SELECT count(*) FROM points WHERE id = ?').pluck().get(orphan.id)).toBe(0);
    expect(await a.engine.vaults.reconcileVault(a.engine.vaults.idOf('vault-ams'))).toMatchObject({ pointsAdded: 1, vmsAdded: 0 });
    const listed = unwrap(await a.router.invoke('listPoints', { vm: 'web01' }));
    expect(listed.map((p) => p.id)).toContain(orphan.id);
    expect(listed.find((p) => p.id === orphan.id)).toMatchObject({ manual: false, logicalBytes: 512 * 1024 });
    // ...and it restores.
    const target = path.join(dir, 'restored-orphan');
    await waitAll(a.engine, [unwrap(await a.router.invoke('restorePoint', { vm: 'web01', pointId: orphan.id, mode: 'disks', targetDir: target }))]);
    expect(sha256(path.join(target, 'web01.img'))).toBe(sha256(a.disk));
  });

  it('a damaged manifest is not listed', async () => {
    const dir = tmp();
    const a = await installA(dir);
    await waitAll(a.engine, unwrap(await a.router.invoke('backupNow', { vms: ['web01'] })));
    const ids = fs.readdirSync(path.join(a.vaultDir, 'points')).filter((f) => !f.startsWith('.')).sort();
    const damaged = path.join(a.vaultDir, 'points', ids[1]!);
    const bytes = fs.readFileSync(damaged);
    bytes[bytes.length - 1]! ^= 0xff;
    fs.writeFileSync(damaged, bytes);
    const b = install(path.join(dir, 'data-b'));
    const connected = unwrap(await b.router.invoke('connectVault', { name: 'dr-vault', path: a.vaultDir, passphrase: PASS }));
    expect(connected.pointCount).toBe(1);
    expect(unwrap(await b.router.invoke('listPoints', { vm: 'web01' })).map((p) => p.id)).toEqual([ids[0]]);
  });
});

describe('policies live in the vault', () => {
  it('an edit, a new policy and a deletion in one install reach the other', async () => {
    const dir = tmp();
    const a = await installA(dir);
    const b = install(path.join(dir, 'data-b'));
    unwrap(await b.router.invoke('connectVault', { name: 'dr-vault', path: a.vaultDir, passphrase: PASS }));
    const sync = async () => {
      await a.engine.vaults.reconcileVault(a.engine.vaults.idOf('vault-ams'));
      await b.engine.vaults.reconcileVault(b.engine.vaults.idOf('dr-vault'));
      await a.engine.vaults.reconcileVault(a.engine.vaults.idOf('vault-ams'));
    };
    const described = async (r: Router, vault: string) => unwrap(await r.invoke('listPolicies', { vault })).map((p) => `${p.name}: ${p.description}`);

    unwrap(await a.router.invoke('editPolicy', { vault: 'vault-ams', name: 'Gold', spec: { schedule: { kind: 'daily', times: ['20:00'] }, retention: { dailyDays: 10 } } }));
    unwrap(await b.router.invoke('createPolicy', { vault: 'dr-vault', name: 'Silver', spec: { schedule: { kind: 'daily', times: ['23:00'] }, retention: { dailyDays: 7 } } }));
    await sync();
    const both = ['DefaultPolicy: Daily at 22:00; keep daily 30 days', 'Gold: Daily at 20:00; keep daily 10 days', 'Silver: Daily at 23:00; keep daily 7 days'];
    expect(await described(a.router, 'vault-ams')).toEqual(both);
    expect(await described(b.router, 'dr-vault')).toEqual(both);

    unwrap(await a.router.invoke('deletePolicy', { vault: 'vault-ams', name: 'Silver' }));
    await sync();
    expect(await described(b.router, 'dr-vault')).toEqual(both.slice(0, 2));
    expect(await described(a.router, 'vault-ams')).toEqual(both.slice(0, 2));
    expect(fs.readdirSync(path.join(a.vaultDir, 'policies'))).toHaveLength(2);
  });
});

describe('Backup data only items', () => {
  it('become the VM again when a source lists it (same UUID), and resume protection once the admin confirms', async () => {
    const dir = tmp();
    const a = await installA(dir);
    const vmIdA = unwrap(await a.router.invoke('listVms', { vault: 'vault-ams' }))[0]!.id;
    const b = install(path.join(dir, 'data-b'));
    unwrap(await b.router.invoke('connectVault', { name: 'dr-vault', path: a.vaultDir, passphrase: PASS }));

    // Not before a source lists it: a VM without disks here cannot be backed up.
    const early = errorOf(await b.router.invoke('confirmProtections', { vault: 'dr-vault' }));
    expect(early.code).toBe('VmBackupDataOnly');
    expect(unwrap(await b.router.invoke('listVms', {}))[0]!.protectionState).toBe('BackupDataOnly');

    // The new machine's hypervisor holds the VM again: discovery joins it with its backup data.
    unwrap(await b.router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'hypervisor'), region: 'lab-amsterdam', name: 'lab-b' }));
    const discover = unwrap(await b.router.invoke('discoverVms', { vault: 'dr-vault' }));
    expect((await b.engine.jobs.wait(discover.id)).details).toMatchObject({ associated: 1 });
    const vms = unwrap(await b.router.invoke('listVms', {}));
    expect(vms.map((v) => [v.id, v.name, v.sourceName, v.vaultName, v.protectionState])).toEqual([[vmIdA, 'web01', 'lab-b', 'dr-vault', 'ProtectionStopped']]);
    expect(unwrap(await b.router.invoke('discoveryResult', { vault: 'dr-vault' })).candidates).toEqual([]);

    expect(unwrap(await b.router.invoke('listPendingProtections', { vault: 'dr-vault' }))).toEqual([
      { vmId: vmIdA, vmName: 'web01', cloudService: 'shop', policy: 'Gold', backupDataOnly: false },
    ]);
    const [confirmed] = unwrap(await b.router.invoke('confirmProtections', { vault: 'dr-vault' }));
    expect(confirmed).toMatchObject({ id: vmIdA, protectionState: 'Protected' });
    expect(unwrap(await b.router.invoke('listPendingProtections', { vault: 'dr-vault' }))).toEqual([]);
    const dash = unwrap(await b.router.invoke('dashboard', {}));
    expect(dash.vms).toEqual([expect.objectContaining({ name: 'web01', policy: 'Gold', state: 'Protected', nextBackupAt: expect.any(String) })]);

    // B's backups continue the same VM's history: A sees them on its VM.
    await waitAll(b.engine, unwrap(await b.router.invoke('backupNow', { vms: ['web01'] })));
    await a.engine.vaults.reconcileVault(a.engine.vaults.idOf('vault-ams'));
    expect(unwrap(await a.router.invoke('listPoints', { vm: 'web01' }))).toHaveLength(2);
  });

  it('of an old vault (no records) are associated by hand, and the new records appear on the first write', async () => {
    const dir = tmp();
    const a = await installA(dir);
    await a.engine.close();
    // A vault from before policies and protections were recorded in it.
    for (const d of ['policies', 'protection']) fs.rmSync(path.join(a.vaultDir, d), { recursive: true, force: true });
    const b = install(path.join(dir, 'data-b'));
    const connected = unwrap(await b.router.invoke('connectVault', { name: 'dr-vault', path: a.vaultDir, passphrase: PASS }));
    expect(connected).toMatchObject({ pointCount: 1, backupDataOnlyVms: ['web01'], pendingProtections: [] });
    expect(unwrap(await b.router.invoke('listPolicies', { vault: 'dr-vault' })).map((p) => p.name)).toEqual(['DefaultPolicy']);
    expect(fs.readdirSync(path.join(a.vaultDir, 'policies'))).toHaveLength(1);

    unwrap(await b.router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'hypervisor'), region: 'lab-amsterdam', name: 'lab-b' }));
    const discover = unwrap(await b.router.invoke('discoverVms', { vault: 'dr-vault' }));
    expect((await b.engine.jobs.wait(discover.id)).details).toMatchObject({ associated: 0 });
    expect(unwrap(await b.router.invoke('discoveryResult', { vault: 'dr-vault' })).candidates.map((v) => v.name)).toEqual(['web01']);

    const wrongWay = errorOf(await b.router.invoke('associateVm', { vm: 'shop/web01', with: 'shop/web01' }));
    expect(wrongWay.code).toBe('VmNotFound');
    const vm = unwrap(await b.router.invoke('associateVm', { vm: 'web01', with: 'shop/web01' }));
    expect(vm).toMatchObject({ name: 'web01', sourceName: 'lab-b', protectionState: 'ProtectionStopped', vaultName: 'dr-vault' });
    expect(unwrap(await b.router.invoke('listVms', {}))).toHaveLength(1);
    await waitAll(b.engine, [unwrap(await b.router.invoke('resumeProtection', { vm: 'web01' }))]);
    // The reconcile after the job writes the protection record (queued behind the one the job started).
    await b.engine.vaults.reconcileVault(b.engine.vaults.idOf('dr-vault'));
    expect(fs.readdirSync(path.join(a.vaultDir, 'protection'))).toEqual([vm.id]);
    expect(unwrap(await b.router.invoke('listPoints', { vm: 'web01' }))).toHaveLength(1);
  });

  it('can have their backup data deleted: points, item and record go', async () => {
    const dir = tmp();
    const a = await installA(dir);
    await a.engine.close();
    const b = install(path.join(dir, 'data-b'));
    unwrap(await b.router.invoke('connectVault', { name: 'dr-vault', path: a.vaultDir, passphrase: PASS }));
    expect(fs.readdirSync(path.join(a.vaultDir, 'protection'))).toHaveLength(1);
    const refused = errorOf(await b.router.invoke('stopProtection', { vm: 'web01', deleteData: true }));
    expect(refused.code).toBe('InvalidArgument');
    await waitAll(b.engine, [unwrap(await b.router.invoke('stopProtection', { vm: 'web01', deleteData: true, confirmName: 'web01' }))]);
    await b.engine.vaults.reconcileVault(b.engine.vaults.idOf('dr-vault'));
    expect(unwrap(await b.router.invoke('listVms', {}))).toEqual([]);
    expect(fs.readdirSync(path.join(a.vaultDir, 'points')).filter((f) => !f.startsWith('.'))).toEqual([]);
    expect(fs.readdirSync(path.join(a.vaultDir, 'protection'))).toEqual([]);
    // Nothing comes back on the next open.
    await b.engine.vaults.reconcileVault(b.engine.vaults.idOf('dr-vault'));
    expect(unwrap(await b.router.invoke('listVms', {}))).toEqual([]);
  });
});

describe('a vault that is not there', () => {
  it('(unmounted disk, moved folder) leaves the catalog as it is', async () => {
    const dir = tmp();
    const a = await installA(dir);
    fs.renameSync(a.vaultDir, `${a.vaultDir}.away`);
    const r = a.engine.vaults.reconcileVault(a.engine.vaults.idOf('vault-ams'));
    await expect(r).rejects.toMatchObject({ code: 'VaultNotFound' });
    expect(unwrap(await a.router.invoke('listPoints', { vm: 'web01' }))).toHaveLength(1);
    fs.renameSync(`${a.vaultDir}.away`, a.vaultDir);
  });
});
