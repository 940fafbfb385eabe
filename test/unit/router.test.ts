import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiError, Result } from '../../preload/contract.js';
import { Engine } from '../../main/core/engine.js';
import { createRouter, type Router } from '../../main/rpc/router.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

function setup(): { router: Router; engine: Engine; dir: string } {
  const dir = tmp();
  engine = Engine.open({ dataDir: path.join(dir, 'data') });
  return { router: createRouter(engine, 'cli'), engine, dir };
}

function expectError(r: Result<unknown>, code: string): ApiError {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  if (r.ok) throw new Error('unreachable');
  expect(r.error.code).toBe(code);
  expect(r.error.message.length).toBeGreaterThan(0);
  expect(r.error.remedy.length).toBeGreaterThan(0);
  return r.error;
}

const good = (dir: string, name = 'vault-ams') => ({
  name,
  region: 'lab-amsterdam',
  path: path.join(dir, name),
  passphrase: 'correct horse battery',
});

describe('router validation', () => {
  it('refuses an unknown method with UnknownMethod', async () => {
    const { router } = setup();
    expectError(await router.call('dropAllTables', {}), 'UnknownMethod');
    expectError(await router.call('__proto__', {}), 'UnknownMethod');
  });

  it.each([null, 42, 'text', [], { name: 1 }])('answers a malformed payload %j with InvalidArgument, not a crash', async (payload) => {
    const { router } = setup();
    expectError(await router.call('createVault', payload), 'InvalidArgument');
  });

  it('names each bad field of createVault', async () => {
    const { router, dir } = setup();
    const e = expectError(
      await router.call('createVault', { ...good(dir), name: '9lives', path: 'relative/dir', passphrase: 'short' }),
      'InvalidArgument',
    );
    const fields = (e.details?.issues as { path: string[] }[]).map((i) => i.path.join('.')).sort();
    expect(fields).toEqual(['name', 'passphrase', 'path']);
    expect(e.message).toContain('name:');
    expect(e.message).toContain('passphrase:');
  });

  it('names a missing field and refuses unknown ones', async () => {
    const { router, dir } = setup();
    const { passphrase: _p, ...rest } = good(dir);
    const e = expectError(await router.call('createVault', rest), 'InvalidArgument');
    expect(e.message).toContain('passphrase');
    const e2 = expectError(await router.call('createVault', { ...good(dir), admin: true }), 'InvalidArgument');
    expect(e2.message).toContain('admin');
    expect(fs.existsSync(path.join(dir, 'vault-ams'))).toBe(false);
  });
});

describe('vaults through the router', () => {
  it('creates a vault with a versioned config, the default policy, and lists and shows it', async () => {
    const { router, engine, dir } = setup();
    const seen: unknown[] = [];
    engine.subscribe((event, payload) => seen.push({ event, payload }));
    const r = await router.call('createVault', good(dir));
    expect(r.ok, JSON.stringify(r)).toBe(true);

    const config = JSON.parse(fs.readFileSync(path.join(dir, 'vault-ams', 'config'), 'utf8'));
    expect(config).toMatchObject({ format: 'coffer-vault', version: 2, name: 'vault-ams', region: 'lab-amsterdam' });
    expect(config.kdf.algorithm).toBe('scrypt');
    expect(Buffer.from(config.masterKey.wrapped, 'base64').length).toBe(64);
    expect(JSON.stringify(config)).not.toContain('correct horse');

    const list = await router.call('listVaults', {});
    expect(list).toMatchObject({ ok: true, value: [{ name: 'vault-ams', region: 'lab-amsterdam', unlocked: true, registeredCount: 0 }] });

    const shown = await router.call('showVault', { name: 'VAULT-AMS' });
    expect(shown.ok).toBe(true);
    if (!shown.ok) return;
    const v = shown.value as { usedBytes: number; pointCount: number; policies: { name: string; builtin: boolean; retention: unknown; schedule: { kind: string } }[] };
    expect(v.pointCount).toBe(0);
    // A new vault holds its config and the record of its built-in policy (docs/vault-format.md).
    const files = fs.readdirSync(path.join(dir, 'vault-ams'), { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    expect(files.map((f) => path.relative(path.join(dir, 'vault-ams'), path.join(f.parentPath, f.name))).sort()).toEqual(['config', expect.stringMatching(/^policies\//)]);
    expect(v.usedBytes).toBe(files.reduce((n, f) => n + fs.statSync(path.join(f.parentPath, f.name)).size, 0));
    expect(v.policies).toEqual([
      expect.objectContaining({ name: 'DefaultPolicy', builtin: true, retention: { dailyDays: 30 }, schedule: expect.objectContaining({ kind: 'daily' }) }),
    ]);
    expect(seen).toContainEqual({ event: 'vaultsChanged', payload: { names: ['vault-ams'] } });
  });

  it('keeps names unique ignoring case and never touches the second folder', async () => {
    const { router, dir } = setup();
    expect((await router.call('createVault', good(dir))).ok).toBe(true);
    const e = expectError(await router.call('createVault', { ...good(dir), name: 'Vault-AMS', path: path.join(dir, 'other') }), 'VaultNameTaken');
    expect(e.details).toEqual({ field: 'name' });
    expect(fs.existsSync(path.join(dir, 'other'))).toBe(false);
  });

  it('requires an empty or absent folder', async () => {
    const { router, dir } = setup();
    const busy = path.join(dir, 'busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, 'keep.txt'), 'precious');
    expectError(await router.call('createVault', { ...good(dir), path: busy }), 'VaultFolderNotEmpty');
    expect(fs.readdirSync(busy)).toEqual(['keep.txt']);
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    expectError(await router.call('createVault', { ...good(dir), path: path.join(dir, 'afile') }), 'VaultPathInvalid');
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    expect((await router.call('createVault', { ...good(dir), path: empty })).ok).toBe(true);
  });

  it('unlocks only with the right passphrase', async () => {
    const { router, dir } = setup();
    await router.call('createVault', good(dir));
    expect(await router.call('lockVault', { name: 'vault-ams' })).toMatchObject({ ok: true, value: { unlocked: false } });
    expectError(await router.call('unlockVault', { name: 'vault-ams', passphrase: 'wrong horse battery' }), 'WrongPassphrase');
    expect(await router.call('unlockVault', { name: 'vault-ams', passphrase: 'correct horse battery' })).toMatchObject({
      ok: true,
      value: { unlocked: true },
    });
    expectError(await router.call('unlockVault', { name: 'nope-vault', passphrase: 'x' }), 'VaultNotFound');
  });

  it('refuses to delete a vault with registered VMs, then deletes keeping or removing data', async () => {
    const { router, engine, dir } = setup();
    await router.call('createVault', good(dir));
    const id = (engine.vaults.list()[0] as { id: string }).id;
    engine.db
      .prepare("INSERT INTO vms (id, source_id, stable_id, name, region, vault_id, registration_state) VALUES ('vm1', 's1', 'u1', 'web01', 'lab-amsterdam', ?, 'Registered')")
      .run(id);
    const e = expectError(await router.call('deleteVault', { name: 'vault-ams' }), 'VaultHasRegisteredItems');
    expect(e.details).toEqual({ registered: 1 });
    engine.db.prepare('DELETE FROM vms').run();

    expect(await router.call('deleteVault', { name: 'vault-ams' })).toMatchObject({ ok: true, value: { dataDeleted: false } });
    expect(fs.existsSync(path.join(dir, 'vault-ams', 'config'))).toBe(true);
    expect(await router.call('listVaults', {})).toEqual({ ok: true, value: [] });

    await router.call('createVault', good(dir, 'vault-two'));
    expect(await router.call('deleteVault', { name: 'vault-two', deleteData: true })).toMatchObject({ ok: true, value: { dataDeleted: true } });
    expect(fs.existsSync(path.join(dir, 'vault-two'))).toBe(false);
  });
});

describe('desktop-only methods', () => {
  it('opens the folder picker only for the desktop window, never for the loopback console', async () => {
    const dir = tmp();
    // The native dialog itself needs the Electron binary: a stand-in answers here.
    engine = Engine.open({ dataDir: path.join(dir, 'data'), desktop: { pickFolder: async () => '/srv/vaults' } });
    expect(await createRouter(engine, 'electron').call('pickFolder', {})).toEqual({ ok: true, value: { path: '/srv/vaults' } });
    expectError(await createRouter(engine, 'browser').call('pickFolder', {}), 'NotAvailableHere');
    expectError(await createRouter(engine, 'cli').call('pickFolder', { defaultPath: 'relative' }), 'InvalidArgument');
  });
});

describe('methods the faces call instead of deciding themselves', () => {
  it('vaultsToUnlock names the locked vaults among the named ones and those of the named VMs', async () => {
    const { router, engine, dir } = setup();
    await router.call('createVault', good(dir));
    await router.call('createVault', good(dir, 'vault-two'));
    const id = engine.vaults.list().find((v) => v.name === 'vault-two')!.id;
    fs.mkdirSync(path.join(dir, 'src'));
    const source = await router.call('addSource', { kind: 'folder', target: path.join(dir, 'src'), region: 'lab-amsterdam', name: 'lab' });
    const sourceId = source.ok ? (source.value as { id: string }).id : '';
    engine.db
      .prepare("INSERT INTO vms (id, source_id, stable_id, name, region, vault_id, registration_state) VALUES ('vm1', ?, 'u1', 'web01', 'lab-amsterdam', ?, 'Registered')")
      .run(sourceId, id);
    // Both were just created, so this console holds their keys.
    expect(await router.call('vaultsToUnlock', { vaults: ['VAULT-AMS'], vms: ['web01'] })).toEqual({ ok: true, value: [] });
    await router.call('lockVault', { name: 'vault-ams' });
    await router.call('lockVault', { name: 'vault-two' });
    expect(await router.call('vaultsToUnlock', { vaults: ['VAULT-AMS'] })).toEqual({ ok: true, value: ['vault-ams'] });
    expect(await router.call('vaultsToUnlock', { vms: ['web01'] })).toEqual({ ok: true, value: ['vault-two'] });
    expect(await router.call('vaultsToUnlock', { vms: ['nothing-like-it'] })).toEqual({ ok: true, value: [] });
    expectError(await router.call('vaultsToUnlock', { vms: [''] }), 'InvalidArgument');
  });

  it('backupAll starts nothing and refuses nothing when no VM is protected', async () => {
    const { router } = setup();
    expect(await router.call('backupAll', {})).toEqual({ ok: true, value: { jobs: [], refused: [] } });
  });
});
