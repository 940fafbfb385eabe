import zstd from 'zstd-napi';
import { CofferError } from '../errors.js';
import type { VaultKeys } from './config.js';
import { open, seal } from './crypto.js';
import { ManifestSchema, POINT_ID_RE, POINT_PREFIX, pointKey, type Manifest } from './format.js';
import { ObjectNotFound, type ObjectStore } from './storage.js';

const aad = (id: string): Buffer => Buffer.from(`point:${id}`);

/** Manifest object: seal(encKey, zstd(JSON), aad "point:<id>"). */
export function encodeManifest(keys: VaultKeys, m: Manifest): Buffer {
  return seal(keys.encKey, zstd.compress(Buffer.from(JSON.stringify(m))), aad(m.id));
}

export function decodeManifest(keys: VaultKeys, id: string, blob: Buffer): Manifest {
  const plain = open(keys.encKey, blob, aad(id), `manifest of recovery point ${id}`);
  let json: unknown;
  try {
    json = JSON.parse(zstd.decompress(plain).toString('utf8'));
  } catch {
    throw new CofferError('ChunkCorrupt', `The manifest of recovery point ${id} is not readable.`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success || parsed.data.id !== id) {
    throw new CofferError('ChunkCorrupt', `The manifest of recovery point ${id} is not a valid manifest.`, {
      issues: parsed.success ? 'id mismatch' : parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  }
  return parsed.data;
}

export async function readManifest(store: ObjectStore, keys: VaultKeys, id: string): Promise<Manifest> {
  if (!POINT_ID_RE.test(id)) throw new CofferError('RecoveryPointNotFound', `No recovery point "${id}" in this vault.`);
  let blob: Buffer;
  try {
    blob = await store.get(pointKey(id));
  } catch (e) {
    if (e instanceof ObjectNotFound) throw new CofferError('RecoveryPointNotFound', `No recovery point "${id}" in this vault.`);
    throw e;
  }
  return decodeManifest(keys, id, blob);
}

/** Ids of every point, oldest first (ids sort by creation time). */
export async function listPointIds(store: ObjectStore): Promise<string[]> {
  return (await store.list(POINT_PREFIX))
    .map((o) => o.key.slice(POINT_PREFIX.length))
    .filter((id) => POINT_ID_RE.test(id))
    .sort();
}
