/**
 * Where a vault's objects live. Keys are `/`-separated relative names such as
 * `config`, `packs/ab/ab12...`, `points/<id>`. The engine only uses this interface,
 * so object storage (Azure Blob, S3) fits behind it without engine changes.
 */
export interface ObjectInfo {
  key: string;
  size: number;
}

export interface ObjectStore {
  /** Human-readable location shown in the console (a path or a URL). */
  readonly location: string;
  /** Writes the whole object atomically: readers see the old object, or the new one, never a part. */
  put(key: string, data: Uint8Array): Promise<void>;
  /** Writes only if no object has this key; returns false when one exists (used for locks). */
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
  stat(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes an object; removing an absent one is not an error. */
  delete(key: string): Promise<void>;
  /** Optional: removes abandoned temporary files older than `olderThanMs` (see LocalFolderStore). */
  sweepTemp?(olderThanMs: number): Promise<number>;
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
