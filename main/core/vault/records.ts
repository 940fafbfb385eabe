import zstd from 'zstd-napi';
import { z } from 'zod';
import { CofferError } from '../errors.js';
import type { VaultKeys } from './config.js';
import { open, seal } from './crypto.js';
import { ObjectNotFound, type ObjectStore } from './storage.js';

/**
 * The vault's own record of its policies and of which VM each protects, so every install connected
 * to the vault sees the same policies and a rebuilt install can resume protection (issue 11).
 * Sealed like manifests: seal(encKey, zstd(JSON), AAD "policy:<id>" / "protection:<vmKey>").
 * Old vaults have neither; they appear on the first write.
 */
export const POLICY_PREFIX = 'policies/';
export const PROTECTION_PREFIX = 'protection/';

/** Record names are ids (UUIDs) or other plain keys: letters, digits, '-', '_', '.'. */
const RECORD_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const PolicyRecordSchema = z.object({
  format: z.literal('coffer-policy'),
  version: z.literal(1),
  id: z.string().regex(RECORD_KEY_RE),
  name: z.string().min(1),
  builtin: z.boolean(),
  /** The policy spec as the catalog keeps it (schedule and retention, see preload/policy.ts). */
  spec: z.record(z.string(), z.unknown()),
  created: z.string(),
  updated: z.string(),
});
export type PolicyRecord = z.infer<typeof PolicyRecordSchema>;

export const ProtectionRecordSchema = z.object({
  format: z.literal('coffer-protection'),
  version: z.literal(1),
  /** The VM's key in the vault: the `vm.id` its manifests carry. */
  vmKey: z.string().regex(RECORD_KEY_RE),
  vm: z.object({
    name: z.string().min(1),
    cloudService: z.string(),
    region: z.string(),
    kind: z.string(),
    /** The id its hypervisor gives it (UUID, .vmx path...): how another install finds it again. */
    stableId: z.string(),
  }),
  policyId: z.string().regex(RECORD_KEY_RE),
  policyName: z.string(),
  /** 'protected': scheduled backups run; 'stopped': protection stopped, backup data kept. */
  state: z.enum(['protected', 'stopped']),
  updated: z.string(),
});
export type ProtectionRecord = z.infer<typeof ProtectionRecordSchema>;

export const policyKey = (id: string): string => `${POLICY_PREFIX}${checkRecordKey(id)}`;
export const protectionKey = (vmKey: string): string => `${PROTECTION_PREFIX}${checkRecordKey(vmKey)}`;

function checkRecordKey(k: string): string {
  if (!RECORD_KEY_RE.test(k)) throw new CofferError('InvalidArgument', `"${k}" cannot name a vault record.`);
  return k;
}

function encode(keys: VaultKeys, aad: string, value: unknown): Buffer {
  return seal(keys.encKey, zstd.compress(Buffer.from(JSON.stringify(value))), Buffer.from(aad));
}

function decode<T>(keys: VaultKeys, aad: string, blob: Buffer, schema: z.ZodType<T>, what: string): T {
  const plain = open(keys.encKey, blob, Buffer.from(aad), what);
  let json: unknown;
  try {
    json = JSON.parse(zstd.decompress(plain).toString('utf8'));
  } catch {
    throw new CofferError('ChunkCorrupt', `The ${what} is not readable.`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new CofferError('ChunkCorrupt', `The ${what} is not valid.`);
  return parsed.data;
}

export function encodePolicyRecord(keys: VaultKeys, r: PolicyRecord): Buffer {
  return encode(keys, `policy:${r.id}`, r);
}

export function decodePolicyRecord(keys: VaultKeys, id: string, blob: Buffer): PolicyRecord {
  const r = decode(keys, `policy:${id}`, blob, PolicyRecordSchema, `policy record ${id}`);
  if (r.id !== id) throw new CofferError('ChunkCorrupt', `The policy record ${id} names another policy.`);
  return r;
}

export function encodeProtectionRecord(keys: VaultKeys, r: ProtectionRecord): Buffer {
  return encode(keys, `protection:${r.vmKey}`, r);
}

export function decodeProtectionRecord(keys: VaultKeys, vmKey: string, blob: Buffer): ProtectionRecord {
  const r = decode(keys, `protection:${vmKey}`, blob, ProtectionRecordSchema, `protection record ${vmKey}`);
  if (r.vmKey !== vmKey) throw new CofferError('ChunkCorrupt', `The protection record ${vmKey} names another VM.`);
  return r;
}

export async function putPolicyRecord(store: ObjectStore, keys: VaultKeys, r: PolicyRecord): Promise<void> {
  await store.put(policyKey(r.id), encodePolicyRecord(keys, r));
}

export async function putProtectionRecord(store: ObjectStore, keys: VaultKeys, r: ProtectionRecord): Promise<void> {
  await store.put(protectionKey(r.vmKey), encodeProtectionRecord(keys, r));
}

export async function deletePolicyRecordObject(store: ObjectStore, id: string): Promise<void> {
  await store.delete(policyKey(id));
}

export async function deleteProtectionRecordObject(store: ObjectStore, vmKey: string): Promise<void> {
  await store.delete(protectionKey(vmKey));
}

/** Every readable record under a prefix; unreadable ones are reported, never guessed at. */
async function readAll<T>(store: ObjectStore, prefix: string, read: (key: string, blob: Buffer) => T): Promise<{ records: T[]; unreadable: string[] }> {
  const records: T[] = [];
  const unreadable: string[] = [];
  for (const o of await store.list(prefix)) {
    const name = o.key.slice(prefix.length);
    if (!RECORD_KEY_RE.test(name)) continue; // temp files and foreign names
    try {
      records.push(read(name, await store.get(o.key)));
    } catch (e) {
      if (e instanceof ObjectNotFound) continue; // deleted meanwhile
      if (e instanceof CofferError) unreadable.push(o.key);
      else throw e;
    }
  }
  return { records, unreadable };
}

export function readPolicyRecords(store: ObjectStore, keys: VaultKeys): Promise<{ records: PolicyRecord[]; unreadable: string[] }> {
  return readAll(store, POLICY_PREFIX, (id, blob) => decodePolicyRecord(keys, id, blob));
}

export function readProtectionRecords(store: ObjectStore, keys: VaultKeys): Promise<{ records: ProtectionRecord[]; unreadable: string[] }> {
  return readAll(store, PROTECTION_PREFIX, (k, blob) => decodeProtectionRecord(keys, k, blob));
}
