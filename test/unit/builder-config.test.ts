// The desktop installers' configuration, checked where no Electron runtime is: electron-builder.yml
// against electron-builder's own schema (app-builder-lib/scheme.json), its fuse list against
// @electron/fuses, and `npm run package` stopping at once without a local Electron.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Ajv } from 'ajv';
import { FuseV1Options, FuseVersion } from '@electron/fuses';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/tmp.js';

interface BuilderConfig {
  linux: { target: string[] };
  win: { target: string[] };
  mac: { target: string };
  nsis: { oneClick: boolean; perMachine: boolean; allowElevation: boolean };
  msi: { perMachine: boolean; upgradeCode: string };
  asarUnpack: string[];
  npmRebuild: boolean;
  publish: { provider: string; url: string };
  afterPack: string;
  electronFuses: Record<string, boolean>;
}
const config = load(fs.readFileSync(path.join(repoRoot, 'electron-builder.yml'), 'utf8')) as BuilderConfig;

describe('electron-builder.yml', () => {
  it("is valid against electron-builder's own schema (app-builder-lib/scheme.json)", () => {
    const schema = JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules/app-builder-lib/scheme.json'), 'utf8')) as object;
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    expect(validate(config), ajv.errorsText(validate.errors)).toBe(true);
    // The schema is strict about unknown keys: a misspelt option does not pass.
    expect(validate({ ...config, msi: { ...config.msi, upgradecode: 'x' } })).toBe(false);
  });

  it('builds AppImage, deb and rpm; NSIS per user or per machine and a per-machine MSI with a fixed UpgradeCode; dmg', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb', 'rpm']);
    expect(config.win.target).toEqual(['nsis', 'msi']);
    expect(config.mac.target).toBe('dmg');
    expect(config.nsis).toMatchObject({ oneClick: false, perMachine: false, allowElevation: true });
    expect(config.msi).toMatchObject({ perMachine: true, upgradeCode: '6f1d2c3a-9b4e-4f8a-a1c7-3e5d0b9c2f41' });
    expect(config.publish).toMatchObject({ provider: 'generic' });
  });

  it('unpacks the native modules from the asar and rebuilds them for Electron', () => {
    expect(config.npmRebuild).toBe(true);
    expect(config.asarUnpack).toEqual(expect.arrayContaining(['**/*.node', 'node_modules/better-sqlite3/**', 'node_modules/zstd-napi/**', 'node_modules/lz4-napi*/**']));
  });

  it('sets the fuses the issue asks for, each one a fuse @electron/fuses knows, flipped and checked by the afterPack hook', async () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableCookieEncryption: true,
      onlyLoadAppFromAsar: true,
      enableEmbeddedAsarIntegrityValidation: true,
    });
    expect(fs.existsSync(path.join(repoRoot, config.afterPack))).toBe(true);
    const hook = (await import(path.join(repoRoot, config.afterPack))) as { fuseConfig: (f: Record<string, boolean>) => Record<number | string, unknown> };
    expect(hook.fuseConfig(config.electronFuses)).toEqual({
      version: FuseVersion.V1,
      [FuseV1Options.RunAsNode]: false,
      [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
      [FuseV1Options.EnableNodeCliInspectArguments]: false,
      [FuseV1Options.EnableCookieEncryption]: true,
      [FuseV1Options.OnlyLoadAppFromAsar]: true,
      [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
      [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
    });
    expect(() => hook.fuseConfig({ runAsNod: false })).toThrow('electronFuses.runAsNod is not a fuse @electron/fuses knows');
  });
});

describe('npm run package without a local Electron', () => {
  const runPackage = (env: Record<string, string | undefined>) =>
    spawnSync(process.execPath, [path.join(repoRoot, 'scripts/package.mjs')], { encoding: 'utf8', env: { ...process.env, COFFER_ELECTRON_DIST: undefined, ...env }, timeout: 60_000 });

  it('stops at once with one line naming what it needs, and downloads nothing', () => {
    const r = runPackage({});
    expect(r.error).toBeUndefined(); // it exited by itself (no timeout kill)
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^npm run package needs a local Electron 41\.7\.1: set COFFER_ELECTRON_DIST to an unpacked electron-v41\.7\.1-linux-x64 folder; nothing was downloaded\.$/)]);
  });

  it('names a folder that holds no Electron, or the wrong version', () => {
    const empty = fs.mkdtempSync(path.join(tmpdir(), 'coffer-electron-'));
    try {
      const r = runPackage({ COFFER_ELECTRON_DIST: empty });
      expect(r.status).toBe(2);
      expect(r.stderr.trimEnd()).toBe(`npm run package: COFFER_ELECTRON_DIST=${empty} holds no electron; give an unpacked electron-v41.7.1-linux-x64 folder.`);
      fs.writeFileSync(path.join(empty, 'electron'), '');
      fs.writeFileSync(path.join(empty, 'version'), '40.0.0');
      expect(runPackage({ COFFER_ELECTRON_DIST: empty }).stderr.trimEnd()).toBe(`npm run package: COFFER_ELECTRON_DIST=${empty} is Electron 40.0.0, Coffer needs 41.7.1 (package.json).`);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  const electronDist = process.env.COFFER_ELECTRON_DIST;
  it.skipIf(!electronDist)(`packages the Linux installers with a local Electron (${electronDist ? electronDist : 'skipped: set COFFER_ELECTRON_DIST to an unpacked Electron 41.7.1; none can be downloaded here'})`, { timeout: 900_000 }, () => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts/package.mjs'), '--linux', 'dir'], { encoding: 'utf8', env: process.env });
    expect(r.status, r.stderr).toBe(0);
  });
});
