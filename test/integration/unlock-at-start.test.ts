// How a vault unlocks when the host starts: the OS keychain, a key file, or not at all. On a host
// without a keychain (every headless server, `coffer serve`), "remember" must never cost the
// unlock, and a key file set from any face makes scheduled backups run after a restart.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../main/core/engine.js';
import { Scheduler } from '../../main/core/scheduler.js';
import type { SecretStore } from '../../main/core/vaults.js';
import { createRouter } from '../../main/rpc/router.js';
import { errorOf, unwrap } from '../helpers/cli.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const PASS = 'correct horse battery';
const opened: Engine[] = [];
afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
});

/** An engine as a host runs it; `secrets` stands for the desktop app's OS keychain (absent on a server). */
function host(dataDir: string, face: 'browser' | 'cli' = 'browser', secrets?: SecretStore) {
  const engine = Engine.open({ dataDir, ...(secrets ? { secrets } : {}) });
  engine.protection.timeZone = 'Europe/Amsterdam';
  opened.push(engine);
  return { engine, router: createRouter(engine, face) };
}

/** The keychain as the desktop app's SecretStore presents it, kept across "restarts" of the engine. */
function keychain(): SecretStore {
  const kept = new Map<string, string>();
  return { save: (id, p) => void kept.set(id, p), load: (id) => kept.get(id), forget: (id) => void kept.delete(id) };
}

/** A vault with one VM protected daily at 22:00 (protected on a Friday morning), on a fresh data folder. */
async function protectedVm(secrets?: SecretStore) {
  const dir = tmp();
  const data = path.join(dir, 'data');
  const { engine, router } = host(data, 'browser', secrets);
  const vmDir = path.join(dir, 'src', 'rack1');
  fs.mkdirSync(vmDir, { recursive: true });
  fs.writeFileSync(path.join(vmDir, 'db01.img'), randomBytes(256 * 1024));
  fs.writeFileSync(
    path.join(vmDir, 'db01.xml'),
    `<domain type='kvm'><name>db01</name><uuid>5e0f8a1c-2222-4333-8444-555566667777</uuid><devices><disk type='file' device='disk'><source file='db01.img'/><target dev='vda'/></disk></devices></domain>`,
  );
  unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(dir, 'vault'), passphrase: PASS }));
  unwrap(await router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'src'), region: 'r1' }));
  await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);
  for (const j of unwrap(await router.invoke('registerVms', { vault: 'vault-a', vms: ['db01'] }))) await engine.jobs.wait(j.id);
  unwrap(await router.invoke('createPolicy', { vault: 'vault-a', name: 'Nightly', spec: { schedule: { kind: 'daily', times: ['22:00'] }, retention: { dailyDays: 7 } } }));
  for (const j of unwrap(await router.invoke('protectVms', { vault: 'vault-a', vms: ['db01'], policy: 'Nightly' }))) await engine.jobs.wait(j.id);
  engine.db.prepare("UPDATE vms SET protected_at = '2026-03-27T08:00:00.000Z'").run();
  return { dir, data, engine, router };
}

/** Restarts the host on the same data folder (the key leaves memory) and runs the 22:00 slot. */
async function restartAndRunSchedule(data: string, engine: Engine, secrets?: SecretStore) {
  await engine.close();
  opened.splice(opened.indexOf(engine), 1);
  const again = host(data, 'browser', secrets);
  const before = unwrap(await again.router.invoke('listVaults', {}))[0]!;
  const [job] = new Scheduler(again.engine.db, again.engine.protection).tick(new Date('2026-03-27T21:00:20Z'));
  return { again, before, ended: await again.engine.jobs.wait(job!.id) };
}

describe('remember on a host without an OS keychain', () => {
  it('says so in engineInfo, and an unlock with remember ticked still unlocks (it is only not remembered)', async () => {
    const { router } = await protectedVm();
    expect(unwrap(await router.invoke('engineInfo', {}))).toMatchObject({ face: 'browser', keepsSecrets: false });
    unwrap(await router.invoke('lockVault', { name: 'vault-a' }));
    const v = unwrap(await router.invoke('unlockVault', { name: 'vault-a', passphrase: PASS, remember: true }));
    expect(v).toMatchObject({ unlocked: true, unlocksAtStart: { via: 'none' } });
    // The unlock is real: a backup runs now.
    const [job] = unwrap(await router.invoke('backupNow', { vms: ['db01'] }));
    expect(job).toBeDefined();
  });

  it('connects a vault with remember ticked, unlocked and not remembered', async () => {
    const { dir, router } = await protectedVm();
    const other = host(path.join(dir, 'data2'));
    const v = unwrap(await other.router.invoke('connectVault', { name: 'again', path: path.join(dir, 'vault'), passphrase: PASS, remember: true }));
    expect(v).toMatchObject({ unlocked: true, unlocksAtStart: { via: 'none' } });
    expect(unwrap(await router.invoke('listVaults', {}))[0]).toMatchObject({ name: 'vault-a' });
  });

  it('lists a vault without keychain or key file as not unlocking at start: the scheduled run after a restart fails with VaultLocked', async () => {
    const { data, engine } = await protectedVm();
    const { before, ended } = await restartAndRunSchedule(data, engine);
    expect(before).toMatchObject({ unlocked: false, unlocksAtStart: { via: 'none' }, scheduledCount: 1 });
    expect(ended.error).toMatchObject({ code: 'VaultLocked' });
  });
});

describe('a key file set up from any face', () => {
  it('refuses a file others can read with its remedy and keeps nothing, then takes a private one: after a restart the scheduled backup runs unattended', async () => {
    const { dir, data, engine, router } = await protectedVm();
    const keyFile = path.join(dir, 'vault-a.key');
    fs.writeFileSync(keyFile, `${PASS}\n`, { mode: 0o644 });
    fs.chmodSync(keyFile, 0o644);
    const loose = errorOf(await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile }));
    expect(loose).toMatchObject({ code: 'KeyFileNotPrivate', details: { keyFile, field: 'keyFile' } });
    expect(loose.remedy).toContain(`chmod 600 ${keyFile}`);
    expect(unwrap(await router.invoke('listVaults', {}))[0]!.unlocksAtStart).toEqual({ via: 'none' });

    const missing = errorOf(await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile: path.join(dir, 'nope.key') }));
    expect(missing).toMatchObject({ code: 'KeyFileUnreadable', details: { field: 'keyFile' } });

    fs.chmodSync(keyFile, 0o600);
    const set = unwrap(await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile }));
    expect(set).toMatchObject({ unlocked: true, unlocksAtStart: { via: 'keyFile', keyFile } });

    const { again, before, ended } = await restartAndRunSchedule(data, engine);
    expect(before).toMatchObject({ unlocked: false, unlocksAtStart: { via: 'keyFile', keyFile } });
    expect(ended).toMatchObject({ status: 'Completed', vmName: 'db01' });
    // A queued manual backup too: nobody typed a passphrase since the restart.
    const [manual] = unwrap(await again.router.invoke('backupNow', { vms: ['db01'] }));
    expect((await again.engine.jobs.wait(manual!.id)).status).toBe('Completed');
  });

  it('tests the passphrase in the key file before keeping it', async () => {
    const { dir, router } = await protectedVm();
    const keyFile = path.join(dir, 'wrong.key');
    fs.writeFileSync(keyFile, 'not the passphrase\n', { mode: 0o600 });
    expect(errorOf(await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile })).code).toBe('WrongPassphrase');
    expect(unwrap(await router.invoke('listVaults', {}))[0]!.unlocksAtStart).toEqual({ via: 'none' });
  });

  it('removing the key file or locking the vault leaves it unlocking not at all', async () => {
    const { dir, router } = await protectedVm();
    const keyFile = path.join(dir, 'vault-a.key');
    fs.writeFileSync(keyFile, `${PASS}\n`, { mode: 0o600 });
    unwrap(await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile }));
    expect(unwrap(await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile: null })).unlocksAtStart).toEqual({ via: 'none' });
    unwrap(await router.invoke('setVaultKeyFile', { name: 'vault-a', keyFile }));
    expect(unwrap(await router.invoke('lockVault', { name: 'vault-a' }))).toMatchObject({ unlocked: false, unlocksAtStart: { via: 'none' } });
  });
});

describe('remember where the host has a keychain', () => {
  it('keeps the passphrase in the keychain: listed as Keychain, and the scheduled backup after a restart runs', async () => {
    const secrets = keychain();
    const { data, engine, router } = await protectedVm(secrets);
    expect(unwrap(await router.invoke('engineInfo', {})).keepsSecrets).toBe(true);
    unwrap(await router.invoke('lockVault', { name: 'vault-a' }));
    expect(unwrap(await router.invoke('unlockVault', { name: 'vault-a', passphrase: PASS, remember: true })).unlocksAtStart).toEqual({ via: 'keychain' });
    const { before, ended } = await restartAndRunSchedule(data, engine, secrets);
    expect(before).toMatchObject({ unlocked: false, unlocksAtStart: { via: 'keychain' } });
    expect(ended.status).toBe('Completed');
  });
});
