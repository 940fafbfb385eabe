import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';
import { CofferError } from '../errors.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './format.js';
import { ObjectNotFound, type ObjectStore } from './storage.js';

/**
 * The newest vault format this Coffer writes and reads. Version 2 (issue 13): chunk lists in their
 * own objects (chunk-lists.ts) and the config's parameters authenticated under the master key (`mac`).
 * Version 1 vaults still open, restore and get version 1 points until upgraded (upgrade.ts).
 */
export const VAULT_FORMAT_VERSION = 2;
/** The oldest format this Coffer still reads and writes. */
export const OLDEST_VAULT_FORMAT = 1;
export const CONFIG_KEY = 'config';

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
/** Base64 of exactly (or between) so many bytes. */
const b64Bytes = (min: number, max = min): z.ZodType<string> =>
  b64.max(Math.ceil(max / 3) * 4).refine((v) => {
    const n = Buffer.from(v, 'base64').length;
    return n >= min && n <= max;
  }, `must hold ${min === max ? min : `${min} to ${max}`} bytes`);

/**
 * Bounds on what a config may ask of this machine. The config is read before the passphrase
 * unlocks anything and nothing authenticates it yet (that comes with the next format version),
 * so a tampered config on a shared disk must not make opening the vault exhaust memory or CPU.
 */
export const CONFIG_LIMITS = {
  /** Bytes of the whole config object. */
  maxBytes: 64 * 1024,
  kdfMinN: 1 << 10,
  kdfMaxN: 1 << 20,
  kdfMaxR: 32,
  kdfMaxP: 16,
  /** scrypt needs 128 * N * r bytes. */
  kdfMaxMemory: 256 * 1024 * 1024,
  /** N * r * p: the CPU cost (16 times the default). */
  kdfMaxCost: 1 << 24,
  maxNameLength: 200,
  maxRegionLength: 100,
} as const;

/**
 * The `config` object: plain JSON so another implementation (or a teammate's console) can find
 * out what the vault is before it has the passphrase. Only the master key is secret, and it is
 * stored wrapped (AES-256-GCM) under a key derived from the passphrase with scrypt. Every value is
 * bounded (CONFIG_LIMITS, docs/vault-format.md "config"); one out of bounds is VaultConfigInvalid.
 */
export const VaultConfigSchema = z.object({
  format: z.literal('coffer-vault'),
  version: z.number().int().min(1).max(VAULT_FORMAT_VERSION),
  id: z.string().uuid(),
  name: z.string().max(CONFIG_LIMITS.maxNameLength),
  region: z.string().max(CONFIG_LIMITS.maxRegionLength),
  created: z.string().max(64),
  chunking: z.object({
    algorithm: z.literal('fixed'),
    chunkSize: z
      .number()
      .int()
      .min(MIN_CHUNK_SIZE)
      .max(MAX_CHUNK_SIZE)
      .refine((v) => v % 4096 === 0, 'must be a multiple of 4096'),
  }),
  hash: z.literal('hmac-sha256'),
  compression: z.literal('zstd'),
  encryption: z.literal('aes-256-gcm'),
  kdf: z
    .object({
      algorithm: z.literal('scrypt'),
      N: z
        .number()
        .int()
        .min(CONFIG_LIMITS.kdfMinN)
        .max(CONFIG_LIMITS.kdfMaxN)
        .refine((v) => (v & (v - 1)) === 0, 'must be a power of two'),
      r: z.number().int().min(1).max(CONFIG_LIMITS.kdfMaxR),
      p: z.number().int().min(1).max(CONFIG_LIMITS.kdfMaxP),
      salt: b64Bytes(16, 64),
    })
    .refine((k) => 128 * k.N * k.r <= CONFIG_LIMITS.kdfMaxMemory, { message: `needs more than ${CONFIG_LIMITS.kdfMaxMemory / 1048576} MiB (128 * N * r)`, path: ['N'] })
    .refine((k) => k.N * k.r * k.p <= CONFIG_LIMITS.kdfMaxCost, { message: `costs more than N * r * p = 2^24`, path: ['p'] }),
  masterKey: z.object({ iv: b64Bytes(12), tag: b64Bytes(16), wrapped: b64Bytes(64) }),
  /**
   * Version 2: HMAC-SHA256 under the master key's MAC half over every other field (configMac), so
   * a changed scrypt cost, chunk size, algorithm or version is refused at unlock (VaultConfigTampered).
   * Fields added later (e.g. a `compression` choice) are covered without a change here.
   */
  mac: b64Bytes(32).optional(),
}).refine((c) => c.version < 2 || c.mac !== undefined, { message: 'a version 2 config must carry its mac', path: ['mac'] });
export type VaultConfig = z.infer<typeof VaultConfigSchema>;

/** The unwrapped secrets of an open vault. Never logged, never sent to the renderer. */
export interface VaultKeys {
  /** AES-256-GCM key for chunks, packs, indexes and manifests. */
  encKey: Buffer;
  /** HMAC-SHA256 key that names chunks, so chunk ids reveal nothing about the data. */
  macKey: Buffer;
}

export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

// OWASP's scrypt settings N=2^16, r=8, p=2 cost a guesser as much as N=2^17, p=1 (about half a
// second here) but need 64 MiB instead of 128 MiB: opening a vault then no longer sets the
// engine's memory peak (the p lanes run one after another over the same 64 MiB).
export const DEFAULT_KDF: KdfParams = { N: 1 << 16, r: 8, p: 2 };

function scrypt(passphrase: string, salt: Buffer, params: KdfParams): Promise<Buffer> {
  const opts: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + (1 << 20) };
  return new Promise((resolve, reject) =>
    scryptCb(passphrase.normalize('NFC'), salt, 32, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export interface NewVaultOptions {
  name: string;
  region: string;
  passphrase: string;
  chunkSize: number;
  kdf?: KdfParams;
  /** Format of the new vault: the newest unless told (tests make version 1 vaults to upgrade). */
  version?: number;
}

/** JSON with object keys sorted at every level: the bytes the config MAC is computed over. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The MAC of a config: HMAC-SHA256(macKey, "coffer-config\0" || canonical JSON of every field but `mac`). */
export function configMac(config: VaultConfig, keys: VaultKeys): Buffer {
  const rest: Record<string, unknown> = { ...config };
  delete rest.mac;
  return createHmac('sha256', keys.macKey).update('coffer-config\0').update(canonicalJson(rest)).digest();
}

/** The config of `config` at `version` (2 and later: with its MAC). */
export function configAtVersion(config: VaultConfig, keys: VaultKeys, version: number): VaultConfig {
  const next: VaultConfig = { ...config, version };
  delete next.mac;
  if (version >= 2) next.mac = configMac(next, keys).toString('base64');
  return next;
}

/**
 * Version 2 and later: the config's parameters must be the ones the master key's holder wrote.
 * A config whose MAC fails was changed by someone without the key: refused, nothing written.
 */
export function checkConfigMac(config: VaultConfig, keys: VaultKeys, location: string): void {
  if (config.version < 2) return;
  const want = configMac(config, keys);
  const got = Buffer.from(config.mac ?? '', 'base64');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    throw new CofferError('VaultConfigTampered', `The config of the vault at ${location} does not match its authentication code: its parameters were changed without the vault key.`);
  }
}

/** Makes a fresh config with a random master key wrapped under the passphrase. */
export async function createVaultConfig(opts: NewVaultOptions): Promise<{ config: VaultConfig; keys: VaultKeys }> {
  const kdf = opts.kdf ?? kdfFromEnv() ?? DEFAULT_KDF;
  const salt = randomBytes(32);
  const master = randomBytes(64);
  const id = randomUUID();
  const kek = await scrypt(opts.passphrase, salt, kdf);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(`coffer-vault:${id}`));
  const wrapped = Buffer.concat([cipher.update(master), cipher.final()]);
  const version = opts.version ?? VAULT_FORMAT_VERSION;
  if (!Number.isInteger(version) || version < OLDEST_VAULT_FORMAT || version > VAULT_FORMAT_VERSION) {
    throw new CofferError('InvalidArgument', `Coffer makes vaults of format ${OLDEST_VAULT_FORMAT} to ${VAULT_FORMAT_VERSION}, not ${version}.`);
  }
  const v1: VaultConfig = {
    format: 'coffer-vault',
    version: 1,
    id,
    name: opts.name,
    region: opts.region,
    created: new Date().toISOString(),
    chunking: { algorithm: 'fixed', chunkSize: opts.chunkSize },
    hash: 'hmac-sha256',
    compression: 'zstd',
    encryption: 'aes-256-gcm',
    kdf: { algorithm: 'scrypt', ...kdf, salt: salt.toString('base64') },
    masterKey: { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), wrapped: wrapped.toString('base64') },
  };
  const keys = splitMaster(master);
  return { config: configAtVersion(v1, keys, version), keys };
}

/** Tests may lower the scrypt cost (COFFER_TEST_KDF_N); never lower than 2^10. */
function kdfFromEnv(): KdfParams | undefined {
  const n = Number(process.env.COFFER_TEST_KDF_N);
  if (!Number.isInteger(n) || n < 1024 || (n & (n - 1)) !== 0) return undefined;
  return { N: n, r: 8, p: 1 };
}

function splitMaster(master: Buffer): VaultKeys {
  return { encKey: master.subarray(0, 32), macKey: master.subarray(32, 64) };
}

/** Reads and checks `config`; refuses a newer format without touching anything. */
export async function readVaultConfig(store: ObjectStore): Promise<VaultConfig> {
  let raw: Buffer;
  try {
    raw = await store.get(CONFIG_KEY);
  } catch (e) {
    if (e instanceof ObjectNotFound) throw new CofferError('VaultNotFound', `No Coffer vault at ${store.location} (no config file).`);
    throw e;
  }
  if (raw.length > CONFIG_LIMITS.maxBytes) {
    throw new CofferError('VaultConfigInvalid', `The config of the vault at ${store.location} is ${raw.length} bytes; a Coffer config is at most ${CONFIG_LIMITS.maxBytes}.`, {
      field: '(whole file)',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new CofferError('VaultCorrupt', `The config of the vault at ${store.location} is not valid JSON.`);
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version > VAULT_FORMAT_VERSION) {
    throw new CofferError(
      'VaultFormatTooNew',
      `The vault at ${store.location} has format ${version}; this Coffer reads up to ${VAULT_FORMAT_VERSION}.`,
      { version, supported: VAULT_FORMAT_VERSION },
    );
  }
  if ((json as { format?: unknown } | null)?.format !== 'coffer-vault') {
    throw new CofferError('VaultCorrupt', `The config of the vault at ${store.location} is not a Coffer vault config.`);
  }
  const parsed = VaultConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(top level)';
    throw new CofferError('VaultConfigInvalid', `The config of the vault at ${store.location} has an invalid ${field}: ${issue.message}.`, { field });
  }
  return parsed.data;
}

/**
 * Unwraps the master key; a wrong passphrase fails GCM authentication and becomes `WrongPassphrase`.
 * A version 2 config whose MAC fails is `VaultConfigTampered`.
 */
export async function unlockVaultConfig(config: VaultConfig, passphrase: string): Promise<VaultKeys> {
  let keys: VaultKeys;
  const kek = await scrypt(passphrase, Buffer.from(config.kdf.salt, 'base64'), config.kdf);
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(config.masterKey.iv, 'base64'));
  decipher.setAAD(Buffer.from(`coffer-vault:${config.id}`));
  decipher.setAuthTag(Buffer.from(config.masterKey.tag, 'base64'));
  try {
    const master = Buffer.concat([decipher.update(Buffer.from(config.masterKey.wrapped, 'base64')), decipher.final()]);
    keys = splitMaster(master);
  } catch {
    throw new CofferError('WrongPassphrase', `The passphrase does not unlock the vault "${config.name}".`);
  }
  checkConfigMac(config, keys, `"${config.name}"`);
  return keys;
}

export async function writeVaultConfig(store: ObjectStore, config: VaultConfig): Promise<void> {
  await store.put(CONFIG_KEY, Buffer.from(`${JSON.stringify(config, null, 2)}\n`));
}
