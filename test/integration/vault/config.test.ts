import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { tempDir } from './helpers.js';

// A config on a shared disk can be edited by anyone who can write there: every value is bounded
// on read, so opening the vault cannot be made to exhaust memory or CPU in the app.
let dir: string;
let good: Record<string, unknown>;
beforeAll(async () => {
  dir = tempDir();
  const v = await Vault.create(new LocalFolderStore(path.join(dir, 'orig')), { name: 'v', region: 'local', passphrase: 'pw', chunkSize: 64 * 1024 });
  await v.close();
  good = JSON.parse(fs.readFileSync(path.join(dir, 'orig', 'config'), 'utf8')) as Record<string, unknown>;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Cfg = Record<string, Record<string, unknown> & unknown>;
const cases: Array<[string, string, (c: Cfg) => void]> = [
  ['scrypt N of 2^30 (128 GiB)', 'kdf.N', (c) => (c.kdf!.N = 2 ** 30)],
  ['scrypt N not a power of two', 'kdf.N', (c) => (c.kdf!.N = 100_000)],
  ['scrypt N below 2^10', 'kdf.N', (c) => (c.kdf!.N = 16)],
  ['scrypt r of 1000', 'kdf.r', (c) => (c.kdf!.r = 1000)],
  ['scrypt p of 2^20', 'kdf.p', (c) => (c.kdf!.p = 2 ** 20)],
  ['scrypt memory 128*N*r over 256 MiB', 'kdf.N', (c) => Object.assign(c.kdf!, { N: 2 ** 20, r: 8 })],
  ['scrypt cost N*r*p over 2^24', 'kdf.p', (c) => Object.assign(c.kdf!, { N: 2 ** 17, r: 16, p: 16 })],
  ['chunk size of 4 GiB', 'chunking.chunkSize', (c) => (c.chunking!.chunkSize = 2 ** 32)],
  ['chunk size not a multiple of 4 KiB', 'chunking.chunkSize', (c) => (c.chunking!.chunkSize = 65_537)],
  ['salt of 1 KiB', 'kdf.salt', (c) => (c.kdf!.salt = Buffer.alloc(1024).toString('base64'))],
  ['wrapped key of the wrong length', 'masterKey.wrapped', (c) => (c.masterKey!.wrapped = Buffer.alloc(32).toString('base64'))],
  ['iv of the wrong length', 'masterKey.iv', (c) => (c.masterKey!.iv = Buffer.alloc(16).toString('base64'))],
  ['name of 10 000 characters', 'name', (c) => ((c as Record<string, unknown>).name = 'x'.repeat(10_000))],
  ['version 0', 'version', (c) => ((c as Record<string, unknown>).version = 0)],
  ['unknown cipher', 'encryption', (c) => ((c as Record<string, unknown>).encryption = 'rot13')],
  ['unknown kdf', 'kdf.algorithm', (c) => (c.kdf!.algorithm = 'argon2id')],
];

describe('a tampered vault config', () => {
  for (const [what, field, tamper] of cases) {
    it(`is refused with VaultConfigInvalid naming the field: ${what}`, async () => {
      const vdir = path.join(dir, field.replace(/\W/g, '_') + Math.random().toString(16).slice(2, 8));
      fs.mkdirSync(vdir);
      const cfg = structuredClone(good) as Cfg;
      tamper(cfg);
      fs.writeFileSync(path.join(vdir, 'config'), JSON.stringify(cfg));
      const e = await Vault.open(new LocalFolderStore(vdir), 'pw').catch((x: unknown) => x);
      expect(isCofferError(e, 'VaultConfigInvalid')).toBe(true);
      expect((e as { details?: { field?: string } }).details?.field).toBe(field);
      // Nothing was changed on disk.
      expect(JSON.parse(fs.readFileSync(path.join(vdir, 'config'), 'utf8'))).toEqual(cfg);
    });
  }

  it('is refused when the file is larger than any config', async () => {
    const vdir = path.join(dir, 'huge');
    fs.mkdirSync(vdir);
    fs.writeFileSync(path.join(vdir, 'config'), JSON.stringify({ ...good, pad: 'x'.repeat(1 << 20) }));
    const e = await Vault.open(new LocalFolderStore(vdir), 'pw').catch((x: unknown) => x);
    expect(isCofferError(e, 'VaultConfigInvalid')).toBe(true);
  });

  it('still opens when untouched', async () => {
    const v = await Vault.open(new LocalFolderStore(path.join(dir, 'orig')), 'pw');
    await v.close();
  });
});
