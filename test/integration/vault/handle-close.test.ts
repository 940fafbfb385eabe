import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { bundleChild } from '../../helpers/bundle.js';
import { makeDisk, tempDir } from './helpers.js';

/**
 * A closed vault handle leaves nothing running: two operations that start at once on a fresh
 * handle used to start a worker pool each, and the one overwritten was never closed, so the
 * process (`coffer serve` after SIGTERM, a CLI command) never ended by itself.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// Inside the repo so the child finds <repo>/dist/vault-worker.mjs, outside git's view.
const CHILD = path.join(root, 'node_modules', '.cache', 'coffer-test', 'vault-close-child.mjs');
const PW = 'pw';
const dir = tempDir('coffer-handle-close-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await bundleChild(path.join(root, 'test', 'helpers', 'vault-close-child.ts'), CHILD);
});

describe('closing a vault handle', () => {
  it('ends the process by itself after two operations started the handle at once', { timeout: 120_000 }, async () => {
    const vdir = path.join(dir, 'vault');
    const v = await Vault.create(new LocalFolderStore(vdir), { name: 'v', region: 'local', passphrase: PW, chunkSize: 64 * 1024 });
    await v.close();
    const [a, b] = [path.join(dir, 'a.img'), path.join(dir, 'b.img')];
    makeDisk(a, 4, 1);
    makeDisk(b, 4, 2);
    const child = spawn(process.execPath, [CHILD, vdir, PW, a, b], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COFFER_TEST_KDF_N: '1024' } });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const printed = new Promise<string>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      void exited.then(() => resolve(out.trim()));
    });
    try {
      // What still keeps the process alive once the handle is closed: nothing of the vault's.
      expect(await printed, err).toBe('[]');
      expect(await exited, err).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
