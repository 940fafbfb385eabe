import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { CATALOG_FILE } from '../../main/core/catalog/catalog.js';
import { AZURITE_DEV } from '../../main/core/vault/stores.js';
import { cofferIn, type CliRun } from './cli.js';
import { startAzurite, startS3rver, type Emulator } from './emulators.js';

/** The passphrase of the vaults these tests make. */
export const PASS = 'correct horse battery staple';

/** Every byte of a data folder's catalog (the database and its write-ahead log). */
export function catalogBytes(dataDir: string): string {
  return fs
    .readdirSync(dataDir)
    .filter((f) => f.startsWith(CATALOG_FILE))
    .map((f) => fs.readFileSync(path.join(dataDir, f)).toString('latin1'))
    .join('');
}

/** The CLI on one data folder with a passphrase and storage credentials in its environment: run, ok (exit 0 asserted), json. */
export function runner(dataDir: string, env: Record<string, string>) {
  const coffer = cofferIn(dataDir, { COFFER_PASSPHRASE: PASS, ...env });
  const ok = (...args: string[]): string => {
    const r = coffer(...args);
    expect(r.code, `coffer ${args.join(' ')}\n${r.out}\n${r.err}`).toBe(0);
    return r.out;
  };
  const json = <T>(...args: string[]): T => JSON.parse(ok(...args, '--json')) as T;
  return { coffer, ok, json };
}

/** One storage backend as the CLI names it: the --path / --azure / --s3 arguments of a vault there, its credentials, its lock mode. */
export type Backend = { name: string; secrets: string[]; env: Record<string, string>; where: (prefix: string) => string[]; lockMode: 'conditional' | 'listing'; emulator?: Emulator };

/** A backend for one test; the emulator it starts is pushed to `emulators` for the test file to dispose. */
export async function backend(kind: 'folder' | 'azure' | 's3', dir: string, emulators: Emulator[]): Promise<Backend> {
  if (kind === 'folder') return { name: 'folder', secrets: [], env: {}, where: (p) => ['--path', path.join(dir, 'vaults', p)], lockMode: 'conditional' };
  const em = kind === 'azure' ? await startAzurite() : await startS3rver();
  emulators.push(em);
  return kind === 'azure'
    ? { name: 'azurite', emulator: em, secrets: [AZURITE_DEV.key], env: em.env, where: (p) => ['--azure', `${em.endpoint}/${AZURITE_DEV.account}/vaults/${p}`], lockMode: 'conditional' }
    : { name: 's3rver', emulator: em, secrets: ['S3RVER'], env: em.env, where: (p) => ['--s3', `s3://vaults/${p}`, '--endpoint', em.endpoint], lockMode: 'listing' };
}

/** Asserts that none of the secrets appears in what the CLI printed. */
export function expectNoSecret(r: CliRun, secrets: string[]): void {
  for (const s of secrets) {
    expect(r.out).not.toContain(s);
    expect(r.err).not.toContain(s);
  }
}
