import { CofferError } from '../errors.js';
import { writeChunkList } from './chunk-lists.js';
import { checkConfigMac, configAtVersion, readVaultConfig, VAULT_FORMAT_VERSION, writeVaultConfig, type VaultConfig, type VaultKeys } from './config.js';
import { POINT_PREFIX, POINT_ID_RE, pointKey, type DiskEntry, type Manifest } from './format.js';
import { decodeManifest, encodeManifest } from './manifest.js';
import { mapStoreError } from './packs.js';
import type { ObjectStore } from './storage.js';

/**
 * Upgrading a vault from format 1 to 2 (issue 13 W25), under the exclusive lock. The order keeps
 * every point restorable at every instant, so a cancel or a kill -9 anywhere is resumed by simply
 * running the upgrade again:
 *
 * 1. The config is switched to version 2 (with its MAC) FIRST, in one atomic put. From then on a
 *    Coffer that knows only version 1 refuses the vault untouched (VaultFormatTooNew) instead of
 *    meeting a manifest it cannot read, and this Coffer writes version 2 points. A version 2 vault
 *    may hold version 1 manifests: readers accept both (docs/vault-format.md), so nothing is lost
 *    when the upgrade stops right after the switch.
 * 2. Then, manifest by manifest: the disk's chunk lists are written as version 2 runs (durable
 *    first), then the version 2 manifest replaces the version 1 one under the same name (an
 *    atomic put: a reader sees the old whole manifest or the new whole one, both complete).
 *    A crash between the two leaves runs no manifest names yet: the next upgrade writes them
 *    again (same content, same name: not rewritten), or GC removes them.
 * 3. Done when no version 1 manifest is left. Running it again on an upgraded vault finds nothing
 *    to do (it is the resume of a stopped upgrade).
 */

export interface UpgradeProgress {
  /** Bytes of manifests converted so far, of all the vault's manifests at the start. */
  bytesDone: number;
  bytesTotal: number;
  pointsDone: number;
  pointsTotal: number;
}

export interface UpgradeReport {
  fromVersion: number;
  toVersion: number;
  /** Version 1 manifests rewritten as version 2 by this run. */
  pointsConverted: number;
  /** Every point of the vault at the end. */
  points: number;
  /** Bytes of chunk-list objects written. */
  bytesWritten: number;
  seconds: number;
}

export interface UpgradeOptions {
  signal?: AbortSignal;
  onProgress?: (p: UpgradeProgress) => void;
  /** Called before the config is switched (Vault re-checks its exclusive lock here); a throw writes nothing. */
  beforeCommit?: () => Promise<void>;
}

/**
 * Test-only crash hook (COFFER_TEST_CRASH_AT=upgrade, COFFER_TEST_CRASH_AFTER=n): dies with SIGKILL
 * while write n of the upgrade is in flight (1: the config switch; 2..: the manifests, in id order).
 */
function crashPoint(step: number): void {
  if (process.env.COFFER_TEST_CRASH_AT !== 'upgrade') return;
  if (step >= Number(process.env.COFFER_TEST_CRASH_AFTER ?? '1')) process.kill(process.pid, 'SIGKILL');
}

function cancelled(): CofferError {
  return new CofferError('OperationCancelled', 'The vault upgrade was cancelled; every recovery point stays readable. Run the upgrade again to finish it.');
}

/** The version 2 form of a version 1 disk entry: the same fields, the ids moved into chunk-list objects. */
async function upgradeDisk(store: ObjectStore, keys: VaultKeys, d: DiskEntry): Promise<{ entry: DiskEntry; bytes: number }> {
  if (d.chunks === undefined) throw new CofferError('VaultCorrupt', `Disk ${d.name} has no chunk list.`);
  const ids = Buffer.from(d.chunks, 'base64');
  const { list, bytesWritten } = await writeChunkList(store, keys, ids);
  const entry: DiskEntry = { ...d, list };
  delete entry.chunks;
  return { entry, bytes: bytesWritten };
}

/**
 * Runs (or resumes) the upgrade of the vault in `store` to the newest format. `known` is the
 * config the caller opened the vault with: the store's config must still be that vault's.
 * Returns the config in force at the end.
 */
export async function runUpgrade(store: ObjectStore, keys: VaultKeys, known: VaultConfig, opts: UpgradeOptions = {}): Promise<{ config: VaultConfig; report: UpgradeReport }> {
  const started = Date.now();
  const signal = opts.signal;
  try {
    let config = await readVaultConfig(store);
    if (config.id !== known.id) throw new CofferError('VaultCorrupt', `The storage at ${store.location} now holds another vault (${config.name}).`);
    checkConfigMac(config, keys, store.location);
    const fromVersion = config.version;
    const objs = (await store.list(POINT_PREFIX))
      .map((o) => ({ id: o.key.slice(POINT_PREFIX.length), size: o.size }))
      .filter((o) => POINT_ID_RE.test(o.id))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const progress: UpgradeProgress = { bytesDone: 0, bytesTotal: objs.reduce((s, o) => s + o.size, 0), pointsDone: 0, pointsTotal: objs.length };
    opts.onProgress?.({ ...progress });
    if (signal?.aborted) throw cancelled();

    if (config.version < VAULT_FORMAT_VERSION) {
      await opts.beforeCommit?.();
      const next = configAtVersion(config, keys, VAULT_FORMAT_VERSION);
      const put = writeVaultConfig(store, next);
      crashPoint(1);
      await put;
      config = next;
    }

    let pointsConverted = 0;
    let bytesWritten = 0;
    for (const o of objs) {
      if (signal?.aborted) throw cancelled();
      let blob: Buffer;
      try {
        blob = await store.get(pointKey(o.id));
      } catch {
        // Gone since the listing (cannot happen under the exclusive lock, but never guess): skip.
        continue;
      }
      const m: Manifest = decodeManifest(keys, o.id, blob);
      if (m.version === 1) {
        const disks: DiskEntry[] = [];
        for (const d of m.disks) {
          const up = await upgradeDisk(store, keys, d);
          bytesWritten += up.bytes;
          disks.push(up.entry);
        }
        const m2: Manifest = { ...m, version: 2, disks };
        const put = store.put(pointKey(o.id), encodeManifest(keys, m2));
        crashPoint(2 + pointsConverted);
        await put;
        pointsConverted++;
      }
      progress.pointsDone++;
      progress.bytesDone += o.size;
      opts.onProgress?.({ ...progress });
    }
    return {
      config,
      report: {
        fromVersion,
        toVersion: config.version,
        pointsConverted,
        points: objs.length,
        bytesWritten,
        seconds: (Date.now() - started) / 1000,
      },
    };
  } catch (e) {
    throw mapStoreError(e);
  }
}
