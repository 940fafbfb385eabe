import type { FileHandle } from 'node:fs/promises';

/**
 * Where a vault's objects live. Keys are `/`-separated relative names such as
 * `config`, `packs/ab/ab12...`, `points/<id>`. The engine only uses this interface,
 * so object storage (Azure Blob, S3) fits behind it without engine changes.
 *
 * The contract every store keeps (the engine's crash safety and the locks rely on it):
 * - `put` is atomic: a reader sees the old object or the whole new one, never a part, and an
 *   object is durable once `put` resolves. A crash mid-put leaves no object under the final name
 *   (temporary names such as `.tmp-*` or uncommitted multipart uploads are never listed).
 * - `list`, `stat` and `get` are strongly consistent with every `put`/`delete` that resolved
 *   before them, from any client (read-after-write and list-after-write, as Azure Blob and S3 give
 *   today). The lock protocols depend on this: a lock written before a rival lists is seen.
 * - `delete` of an absent key succeeds; there is no compare-and-delete (see locks.ts for how the
 *   lock code makes the remaining window harmless).
 * - `putIfAbsent` writes only when no object has the key. When `conditionalCreate` is true the
 *   backend enforces it atomically (O_EXCL, Azure `If-None-Match: *`, S3 servers that honour
 *   `If-None-Match`); when false it may silently overwrite, and the locks use the protocol that does
 *   not depend on it (docs/vault-format.md, "Locks").
 */
export interface ObjectInfo {
  key: string;
  size: number;
  /** Optional: last-modified time (ms since the epoch, the store's clock); locks use it to age unreadable lock objects. */
  modified?: number;
}

/**
 * How the engine sizes its reads and writes for a store. Each request to an object store costs a
 * round trip and a fixed share of CPU on both sides (signing, parsing, the service's own
 * bookkeeping), so there the engine writes bigger packs, keeps more of them in flight and reads
 * bigger coalesced ranges than on a local folder. The format does not depend on them: readers
 * accept packs of any size (docs/vault-format.md, "Packs").
 */
export interface StoreIoHints {
  /** A backup closes a pack once it holds this many bytes. */
  packBytes: number;
  /** Packs one backup writes at once (each pack and then its index object). */
  packsInFlight: number;
  /** Stored bytes a restore gathers per batch; the chunks of one pack in a batch are read with one ranged get per run of adjacent chunks. */
  readBatchBytes: number;
  /** Batches a restore keeps in flight (reading, or being decrypted and written by a worker). */
  readBatchesInFlight: number;
}

/** A signed request another thread may send as is (see ObjectStore.rangeRequest). */
export interface PreparedRequest {
  /** http: or https: URL with path and query (a SAS token, if the vault's credential is one). */
  url: string;
  /** Every header to send, signature included (host, range, date, authorization...). */
  headers: Record<string, string>;
  /** The sender gives up on an attempt that makes no progress for this long (the store's policy). */
  timeoutMs: number;
}

/** How a put may be done. */
export interface PutOptions {
  /**
   * false: the object need not survive a crash of this machine, only be atomic and visible to
   * other processes (lock objects: their holder dies with the machine, and a lost lock is what a
   * stale one becomes). A local folder then skips its fsyncs; object stores are durable anyway.
   */
  durable?: boolean;
}

export interface ObjectStore {
  /** Human-readable location shown in the console (a path or a URL). */
  readonly location: string;
  /** Optional: request sizing for this store (see StoreIoHints); absent means local-folder sizing. */
  readonly ioHints?: StoreIoHints;
  /** Writes the whole object atomically: readers see the old object, or the new one, never a part. */
  put(key: string, data: Uint8Array, opts?: PutOptions): Promise<void>;
  /**
   * Optional: a buffer this store's `put` writes cheapest (a local folder: page-aligned, written
   * with O_DIRECT). The pack writer builds its packs in these; without it, any Buffer.
   */
  allocPutBuffer?(size: number): Buffer;
  /**
   * True when `putIfAbsent` is a real create-only write the backend enforces: two racing callers
   * can never both get `true`. False when the backend may ignore the condition (s3rver and some
   * other S3-compatible servers do); a store decides this at connect time (e.g. with a probe).
   */
  readonly conditionalCreate: boolean;
  /**
   * Writes only if no object has this key; returns false when one exists. Atomic like `put`: the
   * object is never visible half-written. Trust its answer only when `conditionalCreate` is true.
   */
  putIfAbsent(key: string, data: Uint8Array): Promise<boolean>;
  /** Reads a whole object; throws `ObjectNotFound` when absent. */
  get(key: string): Promise<Buffer>;
  /** Reads `length` bytes at `offset` of an object (pack files are read this way). */
  getRange(key: string, offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: like getRange, but reads into `into` (exactly into.length bytes), so a caller can
   * reuse its buffers. Restore falls back to getRange + copy when a store lacks it.
   */
  getRangeInto?(key: string, offset: number, into: Uint8Array): Promise<void>;
  /**
   * Optional (object stores): the ranged GET that `getRangeInto` would send, built and signed by
   * the store's SDK but not sent, so that a restore worker can send it with plain node:http(s)
   * and read the body straight into its batch buffer (docs/performance.md, "Object storage").
   * The request is counted as sent (each is sent once). It carries a signature (Authorization
   * header, or a SAS in the URL): it lives in this process only and is never logged or shown.
   * A request that fails is not retried by its sender: the caller falls back to `getRangeInto`,
   * which retries and classifies the failure (StorageUnreachable, StorageAuthFailed).
   */
  rangeRequest?(key: string, offset: number, length: number): Promise<PreparedRequest>;
  /**
   * Optional (a local folder): the object opened for O_DIRECT reads, so that a restore worker
   * reads ranges of a pack (aligned to DIRECT_ALIGN) into its own page-aligned buffer, past the
   * page cache. A pack read through the page cache for the first time cost this machine's kernel
   * 1.6 CPU-s per GB, an O_DIRECT read 0.03 (docs/performance.md, "Restore reads its packs past
   * the page cache"). undefined when the folder refuses O_DIRECT; ObjectNotFound when it is missing.
   * The caller closes the handle.
   */
  openDirectRead?(key: string): Promise<FileHandle | undefined>;
  stat(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /**
   * Optional: the same listing in pages (the services' own pages of up to 1000 keys; a folder's
   * directory entries as they are read), so a caller that folds it (counts, sums, a compact copy)
   * never holds it whole. Use `listPages(store, prefix)`, which falls back to `list`.
   */
  listPages?(prefix: string): AsyncIterable<ObjectInfo[]>;
  /** Removes an object; removing an absent one is not an error. */
  delete(key: string): Promise<void>;
  /** Optional: removes abandoned temporary files older than `olderThanMs` (see LocalFolderStore). */
  sweepTemp?(olderThanMs: number): Promise<number>;
}

/** The store's listing of `prefix` page by page (one page holding everything when the store has no `listPages`). */
export async function* listPages(store: ObjectStore, prefix: string): AsyncGenerator<ObjectInfo[]> {
  if (store.listPages) yield* store.listPages(prefix);
  else yield await store.list(prefix);
}

/** Collects a paged listing (what `list` returns, for stores that implement `listPages`). */
export async function collectPages<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) for (const o of page) out.push(o);
  return out;
}

export class ObjectNotFound extends Error {
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = 'ObjectNotFound';
  }
}

/** Keys come from manifests and listings: refuse anything that could leave the store. */
export function checkKey(key: string): string {
  if (
    key.length === 0 ||
    key.startsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((part) => part === '' || part === '.' || part === '..')
  ) {
    throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  }
  return key;
}
