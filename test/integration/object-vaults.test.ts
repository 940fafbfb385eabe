import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { VaultDetails } from '../../preload/contract.js';
import { Engine } from '../../main/core/engine.js';
import type { SecretStore } from '../../main/core/vaults.js';
import { AZURITE_DEV, openStore, parseStoredLocation } from '../../main/core/vault/stores.js';
import { createRouter } from '../../main/rpc/router.js';
import { unwrap } from '../helpers/cli.js';
import { backend, catalogBytes, expectNoSecret, PASS, runner, type Backend } from '../helpers/cli-backends.js';
import { startAzurite, startS3rver, type Emulator } from '../helpers/emulators.js';
import { useTmp } from '../helpers/tmp.js';

// Credentials of vaults on object storage, through the CLI against real emulators: where they come
// from, that a wrong one is a typed error, and that no secret lands in an error or the catalog.

const tmp = useTmp();
const emulators: Emulator[] = [];
afterAll(async () => {
  for (const e of emulators.splice(0)) await e.dispose();
});

describe('credentials of object storage', () => {
  it('wrong credentials are StorageAuthFailed with a remedy, and no secret is printed', { timeout: 120_000 }, async () => {
    const dir = tmp();
    const azure = await backend('azure', dir, emulators);
    const s3 = await backend('s3', dir, emulators);
    const wrongKey = randomBytes(64).toString('base64');
    const wrongSecret = `WrongSecret${randomBytes(8).toString('hex')}`;
    const cases: [Backend, Record<string, string>, string[]][] = [
      [azure, { AZURE_STORAGE_ACCOUNT: AZURITE_DEV.account, AZURE_STORAGE_KEY: wrongKey }, [wrongKey]],
      [s3, { AWS_ACCESS_KEY_ID: 'NOTAKEYID', AWS_SECRET_ACCESS_KEY: wrongSecret, AWS_REGION: 'us-east-1' }, [wrongSecret]],
    ];
    for (const [be, env, secrets] of cases) {
      const data = path.join(dir, `data-${be.name}`);
      const { coffer } = runner(data, env);
      for (const args of [['vault', 'create', 'vault-v', '--region', 'lab', ...be.where('auth')], ['vault', 'connect', 'vault-v', ...be.where('auth')]]) {
        const r = coffer(...args);
        expect(r.code, `${be.name}: ${r.err}`).toBe(1);
        expect(r.err).toContain('StorageAuthFailed');
        expect(r.err).toContain('remedy:');
        expectNoSecret(r, secrets);
      }
      for (const s of secrets) expect(catalogBytes(data)).not.toContain(s);
    }
  });

  it('takes credentials from a private credentials file, keeps only its path, and refuses a SAS token it cannot keep safely', { timeout: 120_000 }, async () => {
    const dir = tmp();
    const be = await backend('s3', dir, emulators);
    const creds = path.join(dir, 's3-credentials.json');
    fs.writeFileSync(creds, JSON.stringify({ s3: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' } }), { mode: 0o644 });
    const data = path.join(dir, 'data');
    // No credentials in the environment at all: only the file.
    const { coffer, ok, json } = runner(data, { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AZURE_STORAGE_KEY: '', AZURE_STORAGE_ACCOUNT: '' });
    const loose = coffer('vault', 'create', 'vault-v', '--region', 'lab', ...be.where('file'), '--credentials-file', creds);
    expect(loose.code).toBe(1);
    expect(loose.err).toContain('StorageCredentialsFileInvalid');
    expect(loose.err).toContain('chmod 600');
    fs.chmodSync(creds, 0o600);
    ok('vault', 'create', 'vault-v', '--region', 'lab', ...be.where('file'), '--credentials-file', creds);
    // A later process finds the credentials again from the path the catalog keeps.
    expect(json<VaultDetails>('vault', 'show', 'vault-v').storage.kind).toBe('s3');
    expect(catalogBytes(data)).toContain(creds);

    // A SAS token in the URL: the CLI has no OS keychain, so it is refused and never echoed.
    const az = await backend('azure', dir, emulators);
    const sig = `Zm9vYmFy${randomBytes(12).toString('hex')}`;
    const sasUrl = `${az.where('sas')[1]}?sv=2024-11-04&ss=b&srt=sco&sp=rwdlc&se=2099-01-01T00:00:00Z&sig=${sig}`;
    const sas = coffer('vault', 'create', 'vault-w', '--region', 'lab', '--azure', sasUrl);
    expect(sas.code).toBe(1);
    expect(sas.err).toContain('StorageCredentialsMissing');
    expect(sas.err).toContain('--credentials-file');
    expectNoSecret(sas, [sig]);
    expect(catalogBytes(data)).not.toContain(sig);
  });
});

describe('vaults on object storage through the engine', () => {
  it('keeps a SAS token only in the keychain, refuses a location that is not empty, and deletes every object with the data', { timeout: 120_000 }, async () => {
    const dir = tmp();
    const em = await startAzurite();
    emulators.push(em);
    const { BlobServiceClient, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } = await import('@azure/storage-blob');
    const key = new StorageSharedKeyCredential(AZURITE_DEV.account, AZURITE_DEV.key);
    const service = new BlobServiceClient(`${em.endpoint}/${AZURITE_DEV.account}`, key);
    await service.getContainerClient('sas').create();
    const sas = generateBlobSASQueryParameters(
      { containerName: 'sas', permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 86_400_000) },
      key,
    ).toString();
    const sig = new URLSearchParams(sas).get('sig')!;
    // The OS keychain of the desktop app, as the engine sees it (safeStorage is Electron's).
    const keychain = new Map<string, string>();
    const secrets: SecretStore = { save: (k, v) => void keychain.set(k, v), load: (k) => keychain.get(k), forget: (k) => void keychain.delete(k) };
    // No credentials in the environment: only the token in the URL.
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith('AZURE_') || k.startsWith('AWS_')) delete process.env[k];
    const data = path.join(dir, 'data');
    const url = `${em.endpoint}/${AZURITE_DEV.account}/sas/team`;
    try {
      let engine = Engine.open({ dataDir: data, secrets });
      let router = createRouter(engine, 'electron');
      const made = unwrap(await router.invoke('createVault', { name: 'team', region: 'lab', azure: `${url}?${sas}`, passphrase: PASS }));
      expect(made.location).toBe(url);
      await engine.close();
      expect(catalogBytes(data)).not.toContain(sig);
      expect(catalogBytes(data)).not.toContain(sas.split('sig=')[1]!);
      expect([...keychain.values()]).toEqual([sas]);

      // After a restart the engine finds the token again, unattended.
      engine = Engine.open({ dataDir: data, secrets });
      router = createRouter(engine, 'electron');
      const shown = unwrap(await router.invoke('showVault', { name: 'team' }));
      expect(shown.storage).toMatchObject({ kind: 'azure', lockMode: 'conditional' });
      expect(shown.storage.description).toContain('Azure Blob');

      // The same location again: not empty, refused, nothing written.
      const again = await router.invoke('createVault', { name: 'team-2', region: 'lab', azure: `${url}?${sas}`, passphrase: PASS });
      expect(again.ok).toBe(false);
      expect(!again.ok && again.error.code).toBe('VaultFolderNotEmpty');
      expect(JSON.stringify(again)).not.toContain(sig);

      const before = await listNames(service, 'sas');
      expect(before).toContain('team/config');
      unwrap(await router.invoke('deleteVault', { name: 'team', deleteData: true }));
      expect(await listNames(service, 'sas')).toEqual([]);
      expect(keychain.size).toBe(0);
      await engine.close();
    } finally {
      process.env = saved;
    }
  });
});

describe('policies of a vault on S3', () => {
  it('reach the bucket as soon as they are created, edited or deleted', { timeout: 120_000 }, async () => {
    const dir = tmp();
    const em = await startS3rver();
    emulators.push(em);
    const saved = { ...process.env };
    Object.assign(process.env, em.env);
    try {
      const engine = Engine.open({ dataDir: path.join(dir, 'data') });
      const router = createRouter(engine, 'cli');
      unwrap(await router.invoke('createVault', { name: 'team', region: 'lab', s3: 's3://vaults/team', endpoint: em.endpoint, passphrase: PASS }));
      const store = await openStore(parseStoredLocation(unwrap(await router.invoke('showVault', { name: 'team' })).location), { credentials: em.credentials });
      const records = async () => (await store.list('policies/')).map((o) => o.key).sort();
      expect(await records()).toHaveLength(1);
      const gold = unwrap(await router.invoke('createPolicy', { vault: 'team', name: 'Gold', spec: { schedule: { kind: 'daily', times: ['21:00'] }, retention: { dailyDays: 14 } } }));
      expect(await records()).toContain(`policies/${gold.id}`);
      const before = await store.get(`policies/${gold.id}`);
      unwrap(await router.invoke('editPolicy', { vault: 'team', name: 'Gold', spec: { schedule: { kind: 'daily', times: ['22:00'] }, retention: { dailyDays: 7 } } }));
      expect((await store.get(`policies/${gold.id}`)).equals(before)).toBe(false);
      unwrap(await router.invoke('deletePolicy', { vault: 'team', name: 'Gold' }));
      expect(await records()).not.toContain(`policies/${gold.id}`);
      expect(await records()).toHaveLength(1);
      expect(unwrap(await router.invoke('showVault', { name: 'team' })).storage.lockMode).toBe('listing');
      await engine.close();
    } finally {
      process.env = saved;
    }
  });
});

async function listNames(service: import('@azure/storage-blob').BlobServiceClient, container: string): Promise<string[]> {
  const names: string[] = [];
  for await (const b of service.getContainerClient(container).listBlobsFlat()) names.push(b.name);
  return names;
}
