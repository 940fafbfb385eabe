import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import { CofferError, isCofferError } from '../errors.js';
import { AzureBlobStore, type AzureStoreParams } from './azure-store.js';
import { LocalFolderStore } from './local-store.js';
import type { RemoteStoreOptions } from './remote.js';
import { redactor } from './retry.js';
import { S3Store, type S3Credentials } from './s3-store.js';
import type { ObjectStore } from './storage.js';

/**
 * Where a vault lives, parsed from what the admin typed (`--path DIR`, `--azure URL`,
 * `--s3 s3://BUCKET[/PREFIX] [--endpoint URL]`), and the one factory that opens it. The catalog
 * stores formatVaultLocation(): never a secret (a SAS token in an Azure URL is split off into
 * `sasToken`, which belongs with the other credentials).
 */
export type VaultLocation =
  | { kind: 'folder'; path: string }
  | {
      kind: 'azure';
      /** The account's blob endpoint: https://ACCOUNT.blob.core.windows.net or http://HOST:PORT/ACCOUNT (emulators). */
      url: string;
      account: string;
      container: string;
      /** Folder inside the container ("" for its root), without leading or trailing "/". */
      prefix: string;
      /** The SAS token found in the URL: a secret, never part of the formatted location. */
      sasToken?: string;
    }
  | { kind: 's3'; bucket: string; prefix: string; endpoint?: string; region?: string };

export interface VaultLocationInput {
  path?: string;
  azure?: string;
  s3?: string;
  /** S3 only: a custom endpoint (MinIO, s3rver, another provider). */
  endpoint?: string;
  /** S3 only: the bucket's region (else AWS_REGION). */
  region?: string;
}

export interface AzureCredentials {
  connectionString?: string;
  accountName?: string;
  accountKey?: string;
  sasToken?: string;
}

export interface StoreCredentials {
  azure?: AzureCredentials;
  s3?: S3Credentials & { region?: string };
}

/** A store with the result of the create-only probe (ObjectStore itself gains this field in the lock work). */
export type VaultStore = ObjectStore & { readonly conditionalCreate: boolean };

export interface OpenStoreOptions extends RemoteStoreOptions {
  /** Credentials from elsewhere (the desktop app's safeStorage); they win over the file and the environment. */
  credentials?: StoreCredentials;
  /** A JSON credentials file (see loadCredentialsFile); it wins over the environment. */
  credentialsFile?: string;
  /** Where AZURE_* and AWS_* are read; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Create the container or bucket when it is missing and the credentials allow it (vault create). */
  create?: boolean;
}

/** azurite's well-known development account (UseDevelopmentStorage=true). */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const DEV_URL = 'http://127.0.0.1:10000/devstoreaccount1';

const CONTAINER_RE = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;
const BUCKET_RE = /^(?=.{3,63}$)[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
/** Hosts where the account is the first path segment (azurite, Azure Stack), as the Azure SDK decides. */
const PATH_STYLE_HOST = /^(localhost|host\.docker\.internal|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;

const shown = redactor([]);

function invalid(message: string, field: string): CofferError {
  return new CofferError('StorageLocationInvalid', message, { field });
}

/** "a/b/" -> "a/b"; refuses "." and ".." and empty segments inside. */
function parsePrefix(segments: string[], field: string, input: string): string {
  const parts = segments.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw invalid(`The location ${shown(input)} has a badly encoded path segment.`, field);
    }
  });
  while (parts.length > 0 && parts.at(-1) === '') parts.pop();
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0'))) {
    throw invalid(`The folder part of ${shown(input)} may not contain empty, "." or ".." segments.`, field);
  }
  return parts.join('/');
}

function parseUrl(input: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw invalid(`${shown(input)} is not a URL.`, field);
  }
  if (url.username || url.password) throw invalid('Put credentials in the environment or a credentials file, not in the URL.', field);
  return url;
}

export function parseVaultLocation(input: VaultLocationInput): VaultLocation {
  const given = (['path', 'azure', 's3'] as const).filter((k) => input[k] !== undefined && input[k] !== '');
  if (given.length !== 1) throw invalid('Give exactly one of a folder path, an Azure URL or an S3 URL.', 'location');
  if ((input.endpoint || input.region) && given[0] !== 's3') throw invalid('An endpoint or region only goes with an S3 location.', 'endpoint');
  if (input.path !== undefined && input.path !== '') {
    if (!path.isAbsolute(input.path)) throw new CofferError('VaultPathInvalid', `The vault folder must be an absolute path, not "${input.path}".`, { field: 'path' });
    return { kind: 'folder', path: path.resolve(input.path) };
  }
  if (input.azure) return parseAzure(input.azure);
  return parseS3(input.s3!, input.endpoint, input.region);
}

function parseAzure(input: string): VaultLocation {
  const url = parseUrl(input, 'azure');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`An Azure location starts with https:// (or http:// for an emulator), not ${url.protocol}//.`, 'azure');
  const segments = url.pathname.split('/').slice(1);
  let account: string;
  let serviceUrl: string;
  if (PATH_STYLE_HOST.test(url.hostname)) {
    account = segments.shift() ?? '';
    if (!account) throw invalid(`${shown(input)} names no account: use http://HOST:PORT/ACCOUNT/CONTAINER[/PREFIX].`, 'azure');
    serviceUrl = `${url.origin}/${account}`;
  } else {
    account = url.hostname.split('.')[0]!;
    serviceUrl = url.origin;
  }
  const container = segments.shift() ?? '';
  if (!CONTAINER_RE.test(container)) {
    throw invalid(`"${container}" is not a valid container name (3 to 63 lowercase letters, digits and single hyphens): use ${url.origin}/CONTAINER[/PREFIX].`, 'azure');
  }
  const prefix = parsePrefix(segments, 'azure', input);
  const loc: VaultLocation = { kind: 'azure', url: serviceUrl, account, container, prefix };
  if (url.search) {
    if (!url.searchParams.has('sig')) throw invalid('The only query an Azure location may carry is a SAS token (with sig=...).', 'azure');
    loc.sasToken = url.search.slice(1);
  }
  return loc;
}

function parseS3(input: string, endpointArg?: string, regionArg?: string): VaultLocation {
  const url = parseUrl(input, 's3');
  if (url.protocol !== 's3:') throw invalid(`An S3 location looks like s3://BUCKET[/PREFIX], not ${shown(input)}.`, 's3');
  const bucket = url.hostname;
  if (!BUCKET_RE.test(bucket)) throw invalid(`"${bucket}" is not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens).`, 's3');
  const prefix = parsePrefix(url.pathname.split('/').slice(1), 's3', input);
  // The formatted location carries endpoint and region as query parameters.
  const endpointRaw = endpointArg ?? url.searchParams.get('endpoint') ?? undefined;
  const region = regionArg ?? url.searchParams.get('region') ?? undefined;
  for (const k of url.searchParams.keys()) if (k !== 'endpoint' && k !== 'region') throw invalid(`Unknown parameter "${k}" in the S3 location.`, 's3');
  const loc: VaultLocation = { kind: 's3', bucket, prefix };
  if (endpointRaw) {
    const ep = parseUrl(endpointRaw, 'endpoint');
    if (ep.protocol !== 'https:' && ep.protocol !== 'http:') throw invalid('The S3 endpoint must be an http:// or https:// URL.', 'endpoint');
    if (ep.search || ep.hash) throw invalid('The S3 endpoint may not carry a query.', 'endpoint');
    loc.endpoint = `${ep.origin}${ep.pathname.replace(/\/+$/, '')}`;
  }
  if (region) {
    if (!/^[a-z0-9-]{2,32}$/.test(region)) throw invalid(`"${region}" is not a region name.`, 'region');
    loc.region = region;
  }
  return loc;
}

/** The location as the catalog stores it and the console shows it: no secret, parseable again. */
export function formatVaultLocation(loc: VaultLocation): string {
  if (loc.kind === 'folder') return loc.path;
  const tail = loc.prefix ? `/${loc.prefix.split('/').map(encodeURIComponent).join('/')}` : '';
  if (loc.kind === 'azure') return `${loc.url}/${loc.container}${tail}`;
  const q = [loc.endpoint ? `endpoint=${loc.endpoint}` : '', loc.region ? `region=${loc.region}` : ''].filter(Boolean).join('&');
  return `s3://${loc.bucket}${tail}${q ? `?${q}` : ''}`;
}

/** Parses a formatted location back (what the catalog holds). */
export function parseStoredLocation(s: string): VaultLocation {
  if (s.startsWith('s3://')) return parseVaultLocation({ s3: s });
  if (/^https?:\/\//i.test(s)) return parseVaultLocation({ azure: s });
  return parseVaultLocation({ path: s });
}

/** One line for `vault show`: the backend and the lock mode in force. */
export function describeStore(loc: VaultLocation, conditionalCreate: boolean): string {
  const mode = conditionalCreate ? 'conditional writes honoured' : 'conditional writes NOT honoured: list-based locks';
  if (loc.kind === 'folder') return `Local folder, ${conditionalCreate ? 'create-only writes honoured' : mode}`;
  return `${loc.kind === 'azure' ? 'Azure Blob' : 'S3-compatible'}, ${mode}`;
}

// ---- credentials ----

const credentialsFileSchema = z
  .object({
    azure: z
      .object({
        connectionString: z.string().min(1).optional(),
        accountName: z.string().min(1).optional(),
        accountKey: z.string().min(1).optional(),
        sasToken: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    s3: z
      .object({
        accessKeyId: z.string().min(1),
        secretAccessKey: z.string().min(1),
        sessionToken: z.string().min(1).optional(),
        region: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * Reads a credentials file: JSON `{"azure": {"connectionString"} | {"accountName", "accountKey"} |
 * {"sasToken"}, "s3": {"accessKeyId", "secretAccessKey", "sessionToken"?, "region"?}}`. On POSIX
 * it must not be readable by group or others (chmod 600). Messages name fields, never values.
 */
export async function loadCredentialsFile(file: string): Promise<StoreCredentials> {
  const bad = (why: string): CofferError => new CofferError('StorageCredentialsFileInvalid', `The credentials file ${file} ${why}`, { field: 'credentials' });
  let text: string;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw bad('is not a file.');
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw bad(`can be read by other users (mode ${(st.mode & 0o777).toString(8)}): run chmod 600 ${file}.`);
    }
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if (isCofferError(e)) throw e;
    throw bad(`cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('is not valid JSON.');
  }
  const r = credentialsFileSchema.safeParse(json);
  if (!r.success) {
    const fields = [...new Set(r.error.issues.map((i) => i.path.join('.') || '(top level)'))].join(', ');
    throw bad(`has missing or unknown fields: ${fields} (expected azure.{connectionString | accountName+accountKey | sasToken}, s3.{accessKeyId, secretAccessKey, sessionToken?, region?}).`);
  }
  const out: StoreCredentials = {};
  if (r.data.azure) out.azure = stripUndefined(r.data.azure);
  if (r.data.s3) out.s3 = stripUndefined(r.data.s3);
  return out;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The conventional environment variables of both SDKs' command-line tools. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): StoreCredentials {
  const out: StoreCredentials = {};
  const azure: AzureCredentials = {};
  if (env.AZURE_STORAGE_CONNECTION_STRING) azure.connectionString = env.AZURE_STORAGE_CONNECTION_STRING;
  if (env.AZURE_STORAGE_ACCOUNT) azure.accountName = env.AZURE_STORAGE_ACCOUNT;
  if (env.AZURE_STORAGE_KEY) azure.accountKey = env.AZURE_STORAGE_KEY;
  if (env.AZURE_STORAGE_SAS_TOKEN) azure.sasToken = env.AZURE_STORAGE_SAS_TOKEN;
  if (Object.keys(azure).length > 0) out.azure = azure;
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    out.s3 = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
    if (env.AWS_SESSION_TOKEN) out.s3.sessionToken = env.AWS_SESSION_TOKEN;
    const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (region) out.s3.region = region;
  }
  return out;
}

/** Key=Value;... of an Azure connection string (values may contain "="). */
function parseConnectionString(cs: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of cs.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) m.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim());
  }
  return m;
}

interface ResolvedAzure {
  credential: AzureStoreParams['credential'];
  secrets: string[];
}

function resolveAzure(loc: Extract<VaultLocation, { kind: 'azure' }>, c: AzureCredentials | undefined): ResolvedAzure {
  const sas = (s: string): ResolvedAzure => {
    const token = s.replace(/^\?/, '');
    return { credential: { sasToken: token }, secrets: [token, new URLSearchParams(token).get('sig') ?? ''] };
  };
  const key = (name: string, k: string): ResolvedAzure => ({ credential: { accountName: name, accountKey: k }, secrets: [k] });
  if (loc.sasToken) return sas(loc.sasToken);
  if (c?.connectionString) {
    const m = parseConnectionString(c.connectionString);
    if (m.get('usedevelopmentstorage') === 'true') return key(DEV_ACCOUNT, DEV_KEY);
    const name = m.get('accountname');
    const k = m.get('accountkey');
    if (name && k) return { ...key(name, k), secrets: [k, c.connectionString] };
    const token = m.get('sharedaccesssignature');
    if (token) return { ...sas(token), secrets: [token, c.connectionString] };
    throw new CofferError('StorageCredentialsMissing', 'The Azure connection string has neither AccountName+AccountKey nor SharedAccessSignature.', { field: 'credentials' });
  }
  if (c?.sasToken) return sas(c.sasToken);
  if (c?.accountKey) return key(c.accountName ?? loc.account, c.accountKey);
  throw new CofferError(
    'StorageCredentialsMissing',
    `No credentials for ${formatVaultLocation(loc)}: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, or add a SAS token to the URL.`,
    { field: 'credentials' },
  );
}

async function gatherCredentials(opts: OpenStoreOptions): Promise<StoreCredentials> {
  if (opts.credentials) return opts.credentials;
  if (opts.credentialsFile) return loadCredentialsFile(opts.credentialsFile);
  return credentialsFromEnv(opts.env ?? process.env);
}

/** The connection string of the local azurite (development use and tests). */
export const AZURITE_DEV = { account: DEV_ACCOUNT, key: DEV_KEY, url: DEV_URL } as const;

/**
 * Opens the store of a vault. Folders open as they are; for Azure and S3 this connects with the
 * credentials (explicit, else the credentials file, else the environment), creates the container
 * or bucket when `create` is set and the credentials allow it, and probes whether create-only
 * writes are enforced (`conditionalCreate`). Failures are CofferErrors without secrets:
 * StorageCredentialsMissing, StorageAuthFailed, StorageUnreachable (naming the endpoint),
 * StorageContainerNotFound.
 */
export async function openStore(loc: VaultLocation, opts: OpenStoreOptions = {}): Promise<VaultStore> {
  if (loc.kind === 'folder') return Object.assign(new LocalFolderStore(loc.path), { conditionalCreate: true });
  const creds = await gatherCredentials(opts);
  const location = formatVaultLocation(loc);
  if (loc.kind === 'azure') {
    const a = resolveAzure(loc, creds.azure);
    const store = await AzureBlobStore.create({ serviceUrl: loc.url, container: loc.container, prefix: loc.prefix, credential: a.credential, location, secrets: a.secrets }, opts);
    if (opts.create) await tolerateDenied(store.createContainer());
    await store.probe();
    return store;
  }
  if (!creds.s3) {
    throw new CofferError('StorageCredentialsMissing', `No credentials for ${location}: set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION, or give a credentials file.`, {
      field: 'credentials',
    });
  }
  const region = loc.region ?? creds.s3.region ?? (opts.env ?? process.env).AWS_REGION ?? (loc.endpoint ? 'us-east-1' : undefined);
  if (!region) throw invalid(`Give the region of the bucket ${loc.bucket} (AWS_REGION, or region in the credentials file).`, 'region');
  const { accessKeyId, secretAccessKey, sessionToken } = creds.s3;
  const store = await S3Store.create(
    {
      bucket: loc.bucket,
      prefix: loc.prefix,
      region,
      ...(loc.endpoint ? { endpoint: loc.endpoint } : {}),
      credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
      location,
    },
    opts,
  );
  if (opts.create) await tolerateDenied(store.createBucket());
  await store.probe();
  return store;
}

/** Credentials scoped to one container or bucket may not create it: the probe that follows says whether it exists. */
async function tolerateDenied(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!isCofferError(e, 'StorageAuthFailed')) throw e;
  }
}
