import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import {
  credentialsFromEnv,
  describeStore,
  formatVaultLocation,
  loadCredentialsFile,
  openStore,
  parseStoredLocation,
  parseVaultLocation,
  type VaultLocationInput,
} from '../../../main/core/vault/stores.js';
import { useTmp } from '../../helpers/tmp.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isCofferError(e) ? e.code : String(e);
  }
  return 'no error';
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  return isCofferError(e) ? { code: e.code, message: e.message } : { code: String(e), message: '' };
}

describe('vault locations', () => {
  it('parses an Azure account URL, an emulator URL and an S3 URL, and formats them back', () => {
    const azure = parseVaultLocation({ azure: 'https://acme.blob.core.windows.net/vaults/team/a/' });
    expect(azure).toEqual({ kind: 'azure', url: 'https://acme.blob.core.windows.net', account: 'acme', container: 'vaults', prefix: 'team/a' });
    expect(formatVaultLocation(azure)).toBe('https://acme.blob.core.windows.net/vaults/team/a');

    const azurite = parseVaultLocation({ azure: 'http://127.0.0.1:10000/devstoreaccount1/c01' });
    expect(azurite).toEqual({ kind: 'azure', url: 'http://127.0.0.1:10000/devstoreaccount1', account: 'devstoreaccount1', container: 'c01', prefix: '' });

    const s3 = parseVaultLocation({ s3: 's3://my.bucket/backups/vm', endpoint: 'http://127.0.0.1:9000/' });
    expect(s3).toEqual({ kind: 's3', bucket: 'my.bucket', prefix: 'backups/vm', endpoint: 'http://127.0.0.1:9000' });
    expect(formatVaultLocation(s3)).toBe('s3://my.bucket/backups/vm?endpoint=http://127.0.0.1:9000');
    expect(parseStoredLocation(formatVaultLocation(s3))).toEqual(s3);
    expect(parseStoredLocation(formatVaultLocation(azure))).toEqual(azure);
    expect(parseVaultLocation({ s3: 's3://bucket', region: 'eu-west-1' })).toEqual({ kind: 's3', bucket: 'bucket', prefix: '', region: 'eu-west-1' });

    expect(parseVaultLocation({ path: '/srv/vaults/../vaults/a' })).toEqual({ kind: 'folder', path: '/srv/vaults/a' });
    expect(parseStoredLocation('/srv/vaults/a')).toEqual({ kind: 'folder', path: '/srv/vaults/a' });
  });

  it('splits a SAS token off the URL: the formatted location never holds it', () => {
    const loc = parseVaultLocation({ azure: 'https://acme.blob.core.windows.net/vaults/a?sv=2024-11-04&sp=racwdl&se=2030-01-01&sig=SeCrEtSiGnAtUrE%3D' });
    expect(loc).toMatchObject({ kind: 'azure', container: 'vaults', prefix: 'a', sasToken: 'sv=2024-11-04&sp=racwdl&se=2030-01-01&sig=SeCrEtSiGnAtUrE%3D' });
    expect(formatVaultLocation(loc)).toBe('https://acme.blob.core.windows.net/vaults/a');
  });

  it('refuses malformed locations with StorageLocationInvalid, without echoing secrets', () => {
    const bad: VaultLocationInput[] = [
      { azure: 'https://acme.blob.core.windows.net/Vaults' }, // uppercase container
      { azure: 'https://acme.blob.core.windows.net/' }, // no container
      { azure: 'ftp://acme/vaults' },
      { azure: 'https://acme.blob.core.windows.net/vaults/a//b' }, // empty folder segment
      { azure: 'https://acme.blob.core.windows.net/vaults?comp=list' }, // a query that is not a SAS
      { azure: 'http://127.0.0.1:10000/' }, // emulator URL without account
      { s3: 's3://B_ucket/x' },
      { s3: 'https://bucket/x' },
      { s3: 's3://bucket', endpoint: 'ftp://x' },
      { s3: 's3://bucket?acl=1' },
      { azure: 'https://acme.blob.core.windows.net/vaults', endpoint: 'http://x' },
      { path: '/a', s3: 's3://bucket' },
      {},
    ];
    for (const input of bad) expect(codeOf(() => parseVaultLocation(input)), JSON.stringify(input)).toBe('StorageLocationInvalid');
    expect(codeOf(() => parseVaultLocation({ path: 'relative/dir' }))).toBe('VaultPathInvalid');

    try {
      parseVaultLocation({ azure: 'https://admin:hunter2secret@acme.blob.core.windows.net/vaults' });
      expect.unreachable();
    } catch (e) {
      expect(isCofferError(e, 'StorageLocationInvalid')).toBe(true);
      expect((e as Error).message).not.toContain('hunter2secret');
    }
  });

  it('describes the backend and the lock mode for vault show', () => {
    expect(describeStore(parseVaultLocation({ azure: 'https://acme.blob.core.windows.net/vaults' }), true)).toBe('Azure Blob, conditional writes honoured');
    expect(describeStore(parseVaultLocation({ s3: 's3://bucket' }), false)).toBe('S3-compatible, conditional writes NOT honoured: list-based locks');
    expect(describeStore(parseVaultLocation({ path: '/srv/v' }), true)).toBe('Local folder, create-only writes honoured');
  });
});

describe('object storage credentials', () => {
  const tmp = useTmp();
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

  it('reads a credentials file readable by its owner only, and refuses one others can read', async () => {
    const file = path.join(tmp(), 'creds.json');
    fs.writeFileSync(file, JSON.stringify({ s3: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret, region: 'eu-west-1' }, azure: { connectionString: 'AccountName=a;AccountKey=k' } }));
    fs.chmodSync(file, 0o644);
    const open = await failure(loadCredentialsFile(file));
    expect(open.code).toBe('StorageCredentialsFileInvalid');
    expect(open.message).toContain('chmod 600');
    expect(open.message).not.toContain(secret);

    fs.chmodSync(file, 0o600);
    expect(await loadCredentialsFile(file)).toEqual({
      s3: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret, region: 'eu-west-1' },
      azure: { connectionString: 'AccountName=a;AccountKey=k' },
    });
  });

  it('names the wrong fields of a credentials file, never their values', async () => {
    const dir = tmp();
    const notJson = path.join(dir, 'a.json');
    fs.writeFileSync(notJson, `{"s3": {"secretAccessKey": "${secret}"`, { mode: 0o600 });
    const f1 = await failure(loadCredentialsFile(notJson));
    expect(f1.code).toBe('StorageCredentialsFileInvalid');
    expect(f1.message).not.toContain(secret);

    const wrong = path.join(dir, 'b.json');
    fs.writeFileSync(wrong, JSON.stringify({ s3: { secretAccessKey: secret, secret_key: secret } }), { mode: 0o600 });
    const f2 = await failure(loadCredentialsFile(wrong));
    expect(f2.code).toBe('StorageCredentialsFileInvalid');
    expect(f2.message).toContain('s3.accessKeyId');
    expect(f2.message).not.toContain(secret);

    expect((await failure(loadCredentialsFile(path.join(dir, 'missing.json')))).code).toBe('StorageCredentialsFileInvalid');
  });

  it('takes the conventional environment variables', () => {
    expect(
      credentialsFromEnv({
        AZURE_STORAGE_ACCOUNT: 'acme',
        AZURE_STORAGE_KEY: 'a2V5',
        AWS_ACCESS_KEY_ID: 'AKID',
        AWS_SECRET_ACCESS_KEY: secret,
        AWS_SESSION_TOKEN: 'tok',
        AWS_REGION: 'eu-central-1',
      }),
    ).toEqual({
      azure: { accountName: 'acme', accountKey: 'a2V5' },
      s3: { accessKeyId: 'AKID', secretAccessKey: secret, sessionToken: 'tok', region: 'eu-central-1' },
    });
    expect(credentialsFromEnv({ AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' })).toEqual({ azure: { connectionString: 'UseDevelopmentStorage=true' } });
    expect(credentialsFromEnv({ AWS_ACCESS_KEY_ID: 'AKID' })).toEqual({});
  });

  it('says which variables to set when there are no credentials', async () => {
    const az = await failure(openStore(parseVaultLocation({ azure: 'https://acme.blob.core.windows.net/vaults' }), { env: {} }));
    expect(az.code).toBe('StorageCredentialsMissing');
    expect(az.message).toContain('AZURE_STORAGE_CONNECTION_STRING');
    const s3 = await failure(openStore(parseVaultLocation({ s3: 's3://bucket' }), { env: {} }));
    expect(s3.code).toBe('StorageCredentialsMissing');
    expect(s3.message).toContain('AWS_ACCESS_KEY_ID');
  });
});
