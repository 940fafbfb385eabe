import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import type { StoreCounters } from '../../../main/core/vault/remote.js';
import type { RetryPolicy } from '../../../main/core/vault/retry.js';
import { ObjectNotFound } from '../../../main/core/vault/storage.js';
import { AZURITE_DEV, formatVaultLocation, openStore, parseVaultLocation, type OpenStoreOptions, type StoreCredentials, type VaultLocation, type VaultStore } from '../../../main/core/vault/stores.js';
import { startAzurite, startS3rver, type Emulator } from '../../helpers/emulators.js';

/**
 * One contract, three backends: the local folder, Azure Blob (azurite) and S3 (s3rver), each a
 * real server over HTTP on 127.0.0.1. Every test works under its own prefix of one container.
 */
interface Backend {
  name: 'folder' | 'azure' | 's3';
  /** What the create-only probe must find. */
  conditionalCreate: boolean;
}

const backends: Backend[] = [
  { name: 'folder', conditionalCreate: true },
  { name: 'azure', conditionalCreate: true },
  { name: 's3', conditionalCreate: false },
];

/** Quick failure when the server is gone (the default rides out about 8 s). */
const FAST_RETRY: RetryPolicy = { maxTries: 2, baseDelayMs: 20, maxDelayMs: 50, tryTimeoutMs: 10_000 };

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (isCofferError(e)) return { code: e.code, message: e.message };
  return { code: e instanceof ObjectNotFound ? 'ObjectNotFound' : String(e), message: e instanceof Error ? e.message : String(e) };
}

const counters = (s: VaultStore): StoreCounters | undefined => (s as { counters?: StoreCounters }).counters;

describe.each(backends)('object store contract: $name', (backend) => {
  let em: Emulator | undefined;
  let folderRoot = '';
  let n = 0;

  beforeAll(async () => {
    if (backend.name === 'azure') em = await startAzurite();
    else if (backend.name === 's3') em = await startS3rver();
    else folderRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-store-'));
  });
  afterAll(async () => {
    await em?.dispose();
    if (folderRoot) fs.rmSync(folderRoot, { recursive: true, force: true });
  });

  /** A fresh location (own prefix) in the backend. */
  function fresh(): VaultLocation {
    const prefix = `t${++n}/vault`;
    return em ? em.location('contract', prefix) : { kind: 'folder', path: path.join(folderRoot, `t${n}`) };
  }
  const open = (loc: VaultLocation, opts: OpenStoreOptions = {}): Promise<VaultStore> =>
    openStore(loc, { create: true, ...(em ? { credentials: em.credentials } : {}), ...opts });

  it('writes, reads whole and in ranges, stats, lists and deletes, byte for byte', async () => {
    const store = await open(fresh());
    const a = randomBytes(3 * 1024 * 1024 + 17);
    const b = Buffer.from('index bytes');
    await store.put('packs/ab/ab01', a);
    await store.put('index/ab01', b);
    await store.put('packsX', Buffer.from('x'));
    await store.put('empty', Buffer.alloc(0));

    expect((await store.get('packs/ab/ab01')).equals(a)).toBe(true);
    expect((await store.getRange('packs/ab/ab01', 1_000_003, 65_537)).equals(a.subarray(1_000_003, 1_000_003 + 65_537))).toBe(true);
    const into = Buffer.alloc(4096);
    await store.getRangeInto!('packs/ab/ab01', a.length - 4096, into);
    expect(into.equals(a.subarray(a.length - 4096))).toBe(true);
    expect((await store.get('empty')).length).toBe(0);
    if (backend.name === 's3') {
      // What lands in s3rver's folder is the plain bytes, not an aws-chunked (streaming-signed) body.
      const loc = store.location.replace(/^s3:\/\/contract\//, '').replace(/\?.*$/, '');
      expect(fs.readFileSync(path.join(em!.dir, 'contract', loc, 'packs/ab/ab01._S3rver_object')).equals(a)).toBe(true);
    }

    expect(await store.stat('packs/ab/ab01')).toMatchObject({ key: 'packs/ab/ab01', size: a.length });
    expect(await store.stat('packs/ab/none')).toBeNull();
    expect((await store.list('packs/')).map((o) => o.key)).toEqual(['packs/ab/ab01']);
    expect((await store.list('')).map((o) => `${o.key}:${o.size}`).sort()).toEqual(['empty:0', 'index/ab01:11', `packs/ab/ab01:${a.length}`, 'packsX:1']);

    // Overwrite replaces the whole object.
    await store.put('index/ab01', Buffer.from('v2'));
    expect((await store.get('index/ab01')).toString()).toBe('v2');

    expect((await failure(store.get('points/missing'))).code).toBe('ObjectNotFound');
    expect((await failure(store.getRange('points/missing', 0, 10))).code).toBe('ObjectNotFound');
    await store.delete('packs/ab/ab01');
    await store.delete('packs/ab/ab01'); // absent: not an error
    expect(await store.stat('packs/ab/ab01')).toBeNull();
    expect((await store.list('packs/')).map((o) => o.key)).toEqual([]);
  });

  it(`creates only when absent, and the probe finds conditional writes ${backend.conditionalCreate ? 'honoured' : 'ignored'}`, async () => {
    const store = await open(fresh());
    expect(store.conditionalCreate).toBe(backend.conditionalCreate);
    // The probe cleans up after itself.
    expect(await store.list('')).toEqual([]);
    expect(await store.putIfAbsent('locks/exclusive', Buffer.from('first'))).toBe(true);
    expect(await store.putIfAbsent('locks/exclusive', Buffer.from('second'))).toBe(false);
    expect((await store.get('locks/exclusive')).toString()).toBe('first');
    await store.delete('locks/exclusive');
    expect(await store.putIfAbsent('locks/exclusive', Buffer.from('third'))).toBe(true);
  });

  it('keeps vaults under different prefixes of one container apart', async () => {
    const one = await open(fresh());
    const two = await open(fresh());
    await one.put('config', Buffer.from('one'));
    await two.put('config', Buffer.from('two'));
    expect((await one.get('config')).toString()).toBe('one');
    expect((await two.list('')).map((o) => o.key)).toEqual(['config']);
  });

  it('lists every object across many pages', async () => {
    const loc = fresh();
    const store = await open(loc, { listPageSize: 4 });
    const keys = Array.from({ length: 26 }, (_, i) => `index/${String(i).padStart(3, '0')}`);
    await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
    const before = counters(store)?.requests ?? 0;
    expect((await store.list('index/')).map((o) => o.key).sort()).toEqual(keys);
    if (em) expect(counters(store)!.requests - before).toBe(7); // 26 keys, 4 per page
  });

  it('round-trips big objects, sent in one request and in parts', async () => {
    const store = await open(fresh(), { singlePutMax: 6 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
    const single = randomBytes(6 * 1024 * 1024);
    const parted = randomBytes(17 * 1024 * 1024 + 123);
    await store.put('packs/single', single);
    await store.put('packs/parted', parted);
    expect((await store.get('packs/single')).equals(single)).toBe(true);
    expect((await store.get('packs/parted')).equals(parted)).toBe(true);
    // A range across a part boundary.
    const off = 5 * 1024 * 1024 - 1000;
    expect((await store.getRange('packs/parted', off, 3000)).equals(parted.subarray(off, off + 3000))).toBe(true);
    expect(await store.stat('packs/parted')).toMatchObject({ key: 'packs/parted', size: parted.length });
  });

  if (backend.name === 'folder') return;

  if (backend.name === 'azure') {
    it('works with a SAS token in the URL, which never shows in the location or in errors', async () => {
      const key = new StorageSharedKeyCredential(AZURITE_DEV.account, AZURITE_DEV.key);
      const expiresOn = new Date(Date.now() + 3600_000);
      const sas = generateBlobSASQueryParameters({ containerName: 'contract', permissions: ContainerSASPermissions.parse('racwdl'), expiresOn }, key).toString();
      const base = formatVaultLocation(fresh());
      const loc = parseVaultLocation({ azure: `${base}?${sas}` });
      expect(formatVaultLocation(loc)).toBe(base);
      const store = await openStore(loc, { env: {} });
      expect(store.location).toBe(base);
      expect(store.conditionalCreate).toBe(true);
      await store.put('config', Buffer.from('via SAS'));
      expect((await store.get('config')).toString()).toBe('via SAS');

      const sig = new URLSearchParams(sas).get('sig')!;
      const forged = sas.replace(encodeURIComponent(sig), encodeURIComponent(`${sig.slice(0, -4)}AAA=`));
      const f = await failure(openStore(parseVaultLocation({ azure: `${base}?${forged}` }), { env: {} }));
      expect(f.code).toBe('StorageAuthFailed');
      expect(f.message).not.toContain('sig=');
      expect(f.message).not.toContain(sig.slice(0, 12));
    });

    it('takes the account from AZURE_STORAGE_CONNECTION_STRING', async () => {
      const env = { AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_DEV.account};AccountKey=${AZURITE_DEV.key};BlobEndpoint=${em!.endpoint}/${AZURITE_DEV.account};` };
      const store = await openStore(fresh(), { env, create: true });
      await store.put('config', Buffer.from('via connection string'));
      expect((await store.get('config')).toString()).toBe('via connection string');
    });
  }

  if (backend.name === 's3') {
    it('takes the keys from a credentials file', async () => {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-creds-')), 'creds.json');
      try {
        fs.writeFileSync(file, JSON.stringify(em!.credentials), { mode: 0o600 });
        const store = await openStore(fresh(), { credentialsFile: file, env: {}, create: true });
        await store.put('config', Buffer.from('via file'));
        expect((await store.get('config')).toString()).toBe('via file');
      } finally {
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      }
    });
  }

  it('refuses a wrong key with StorageAuthFailed and never shows the key', async () => {
    const secret = randomBytes(64).toString('base64');
    const creds: StoreCredentials =
      backend.name === 'azure'
        ? { azure: { accountName: 'devstoreaccount1', accountKey: secret } }
        : { s3: { accessKeyId: 'COFFERWRONGKEY', secretAccessKey: secret, region: 'us-east-1' } };
    const f = await failure(openStore(fresh(), { credentials: creds, create: true }));
    expect(f.code).toBe('StorageAuthFailed');
    expect(f.message).toContain(em!.endpoint);
    expect(f.message).not.toContain(secret);
    expect(f.message).not.toContain(secret.slice(0, 16));
  });

  it('fails with StorageUnreachable naming the endpoint while the server is down, and works again once it is back', async () => {
    const store = await open(fresh(), { retry: FAST_RETRY });
    await store.put('config', Buffer.from('before the outage'));
    await em!.stop();
    try {
      for (const f of [await failure(store.put('packs/x', randomBytes(1024))), await failure(store.get('config')), await failure(store.list(''))]) {
        expect(f.code).toBe('StorageUnreachable');
        expect(f.message).toContain(em!.endpoint);
      }
      const failedOpen = await failure(openStore(em!.location('contract', 'other'), { credentials: em!.credentials, retry: FAST_RETRY }));
      expect(failedOpen.code).toBe('StorageUnreachable');
    } finally {
      await em!.restart();
    }
    expect((await store.get('config')).toString()).toBe('before the outage');
    expect(formatVaultLocation(em!.location('contract', 'x'))).toContain(em!.endpoint);
  });
});
