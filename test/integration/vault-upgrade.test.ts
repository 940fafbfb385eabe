// The Upgrade job (issue 13 §5, W25): `coffer vault upgrade NAME --wait` killed with SIGKILL at
// several moments leaves every point restorable; running it again finishes the upgrade, after
// which every point verifies and restores byte-identical. A cancelled upgrade resumes the same way.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import zstd from 'zstd-napi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../main/core/errors.js';
import { open } from '../../main/core/vault/crypto.js';
import { LocalFolderStore } from '../../main/core/vault/local-store.js';
import { Vault } from '../../main/core/vault/vault.js';
import { cliPath } from '../helpers/tmp.js';
import { listFiles, makeDisk, sha256File, tempDir } from './vault/helpers.js';

const KDF = { N: 1024, r: 8, p: 1 };
let dir: string;
let base: string;
const disks: Array<{ name: string; path: string }> = [];
/** The points of the base vault: id -> disk name -> sha256 of the disk at backup. */
const points = new Map<string, Map<string, string>>();

function cli(dataDir: string, args: string[], env: Record<string, string> = {}): ReturnType<typeof spawnSync> {
  const e: NodeJS.ProcessEnv = { ...process.env, COFFER_PASSPHRASE: 'pw', ...env };
  if (!env.COFFER_TEST_CRASH_AT) delete e.COFFER_TEST_CRASH_AT;
  return spawnSync(process.execPath, [cliPath, '--data-dir', dataDir, ...args], { env: e, encoding: 'utf8', timeout: 120_000 });
}

function manifestVersions(vaultDir: string, v: Vault): number[] {
  const keys = (v as unknown as { keys: { encKey: Buffer } }).keys;
  return [...points.keys()].map((id) => {
    const plain = open(keys.encKey, fs.readFileSync(path.join(vaultDir, 'points', id)), Buffer.from(`point:${id}`));
    return (JSON.parse(zstd.decompress(plain).toString('utf8')) as { version: number }).version;
  });
}

/** Every point of the vault restores byte-identical to its disks at backup, and a quick verify passes. */
async function expectAllRestorable(vaultDir: string, fullVerify = false): Promise<Vault> {
  const v = await Vault.open(new LocalFolderStore(vaultDir), 'pw');
  expect((await v.listPoints()).map((p) => p.id)).toEqual([...points.keys()]);
  for (const [id, shas] of points) {
    const target = path.join(dir, `restore-${path.basename(vaultDir)}-${id}-${Math.random().toString(16).slice(2)}`);
    await v.restore(id, target);
    for (const [name, sha] of shas) expect(sha256File(path.join(target, name))).toBe(sha);
    fs.rmSync(target, { recursive: true, force: true });
  }
  expect((await v.verify({ full: fullVerify })).ok).toBe(true);
  return v;
}

beforeAll(async () => {
  dir = tempDir('coffer-upgrade-');
  for (let i = 0; i < 3; i++) {
    const p = path.join(dir, `disk${i}.img`);
    makeDisk(p, 3, 20 + i);
    disks.push({ name: `disk${i}.img`, path: p });
  }
  // A version 1 vault as an older Coffer left it: three points, one of two disks.
  base = path.join(dir, 'base');
  const v = await Vault.create(new LocalFolderStore(base), { name: 'old', region: 'lab', passphrase: 'pw', chunkSize: 64 * 1024, kdf: KDF, formatVersion: 1 });
  try {
    for (const set of [[disks[0]!], [disks[1]!, disks[2]!], [disks[0]!, disks[2]!]]) {
      const p = await v.backup({ vmName: 'web', disks: set });
      points.set(p.id, new Map(set.map((d) => [d.name, sha256File(d.path)])));
    }
  } finally {
    await v.close();
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('coffer vault upgrade', () => {
  // Write 1 is the config switch, writes 2..4 the three manifests (each after its chunk lists).
  for (const after of [1, 2, 3, 4]) {
    it(`killed with SIGKILL during write ${after} of the upgrade: every point stays restorable, and running it again finishes`, async () => {
      const vaultDir = path.join(dir, `vault-kill-${after}`);
      fs.cpSync(base, vaultDir, { recursive: true });
      const data = path.join(dir, `data-kill-${after}`);
      const connected = cli(data, ['vault', 'connect', 'old', '--path', vaultDir]);
      expect(connected.stderr).toBe('');
      expect(connected.status).toBe(0);
      expect(JSON.parse(cli(data, ['vault', 'show', 'old', '--json']).stdout as string)).toMatchObject({ formatVersion: 1, formatUpgradable: true });

      const killed = cli(data, ['vault', 'upgrade', 'old', '--wait'], { COFFER_TEST_CRASH_AT: 'upgrade', COFFER_TEST_CRASH_AFTER: String(after) });
      expect(killed.signal).toBe('SIGKILL');
      // The kill lands while write `after` is in flight: the writes before it are done, that one is not.
      const cfg = JSON.parse(fs.readFileSync(path.join(vaultDir, 'config'), 'utf8')) as { version: number };
      expect(cfg.version).toBe(after === 1 ? 1 : 2);
      const mid = await expectAllRestorable(vaultDir);
      // Manifests before the one in flight are version 2 already, the rest still version 1.
      expect(manifestVersions(vaultDir, mid)).toEqual([0, 1, 2].map((i) => (i < after - 2 ? 2 : 1)));
      await mid.close();

      const resumed = cli(data, ['vault', 'upgrade', 'old', '--wait']);
      expect(resumed.stderr).toBe('');
      expect(resumed.status).toBe(0);
      expect(resumed.stdout).toMatch(/UpgradeVault old: Completed - Vault old upgraded from format [12] to 2/);
      expect(JSON.parse(cli(data, ['vault', 'show', 'old', '--json']).stdout as string)).toMatchObject({ formatVersion: 2, formatUpgradable: false });

      const done = await expectAllRestorable(vaultDir, true);
      expect(done.config.version).toBe(2);
      expect(manifestVersions(vaultDir, done)).toEqual([2, 2, 2]);
      await done.close();
      // The interrupted job is not left running in the log.
      const jobs = JSON.parse(cli(data, ['job', 'list', '--json']).stdout as string) as Array<{ operation: string; status: string }>;
      expect(jobs.filter((j) => j.operation === 'UpgradeVault').map((j) => j.status).sort()).toEqual(['Completed', 'Failed']);
      expect(listFiles(vaultDir).filter((f) => f.startsWith('locks/'))).toEqual([]);
    });
  }

  it('a cancelled upgrade leaves every point restorable and finishes when started again', async () => {
    const vaultDir = path.join(dir, 'vault-cancel');
    fs.cpSync(base, vaultDir, { recursive: true });
    const v = await Vault.open(new LocalFolderStore(vaultDir), 'pw');
    const ac = new AbortController();
    try {
      const e = await v
        .upgrade({ signal: ac.signal, onProgress: (p) => (p.pointsDone === 1 ? ac.abort() : undefined) })
        .catch((x: unknown) => x);
      expect(isCofferError(e, 'OperationCancelled')).toBe(true);
      expect(v.config.version).toBe(2);
      expect(manifestVersions(vaultDir, v)).toEqual([2, 1, 1]);
    } finally {
      await v.close();
    }
    await (await expectAllRestorable(vaultDir)).close();
    const again = await Vault.open(new LocalFolderStore(vaultDir), 'pw');
    try {
      expect(await again.upgrade()).toMatchObject({ fromVersion: 2, toVersion: 2, pointsConverted: 2, points: 3 });
    } finally {
      await again.close();
    }
    await (await expectAllRestorable(vaultDir, true)).close();
  });

  it('a config rolled back to version 1 after an upgrade is refused by the console that saw version 2', () => {
    const vaultDir = path.join(dir, 'vault-rollback');
    fs.cpSync(base, vaultDir, { recursive: true });
    const data = path.join(dir, 'data-rollback');
    expect(cli(data, ['vault', 'connect', 'old', '--path', vaultDir]).status).toBe(0);
    const oldConfig = fs.readFileSync(path.join(vaultDir, 'config'));
    expect(cli(data, ['vault', 'upgrade', 'old', '--wait']).status).toBe(0);
    fs.writeFileSync(path.join(vaultDir, 'config'), oldConfig);
    const r = cli(data, ['vault', 'unlock', 'old']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('VaultConfigTampered');
  });
});
