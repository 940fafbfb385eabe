// Messages between the engine and dist/vault-worker.mjs (structured clone + transferred buffers).
export type WorkerRequest =
  | { type: 'init'; job: number; encKey: Uint8Array; macKey: Uint8Array; chunkSize: number; level: number }
  /** Read len bytes of fd at pos into buf[at..] (in the worker: no main-thread hop), then zero-check and hash. */
  /** filled: buf[at..] already holds the bytes (a disk plan's readRange); nothing is read. */
  | { type: 'hash'; job: number; buf: ArrayBuffer; at: number; len: number; fd: number; pos: number; filled?: boolean }
  | { type: 'seal'; job: number; want: Uint32Array; ids: ArrayBuffer }
  | { type: 'drop'; job: number }
  | {
      type: 'open';
      job: number;
      blob: ArrayBuffer;
      /** Per chunk: offset in blob, stored length, raw length, flags. */
      items: Uint32Array;
      ids: ArrayBuffer;
      /** Restore: the disk's fd, each chunk written at positions[i]; verify: -1 (check only). */
      fd: number;
      /** Restore to a local file: the same file opened with O_DIRECT (runs go there, page-aligned), or absent. */
      directFd?: number;
      positions?: Float64Array;
      /**
       * Re-hash each plaintext against its id (HMAC-SHA256(macKey, SHA-256(P)) = id) and return
       * the sha256s. Verify and a content-checked restore set it; a plain restore relies on the
       * AES-GCM tag, whose AAD is the id (docs/vault-format.md, "Chunks").
       */
      check: boolean;
      /**
       * Object storage: fill blob first by sending these prepared ranged GETs (ObjectStore.rangeRequest),
       * each body read into blob[at, at + length). If any fails, nothing is opened: the reply is
       * 'fetchFailed' with the buffer, and the engine reads those ranges through the store.
       */
      fetch?: FetchRange[];
      /**
       * A local folder: read these ranges of packs opened with O_DIRECT (ObjectStore.openDirectRead)
       * into a page-aligned buffer of the worker's own, and open the batch from that buffer (items'
       * offsets are in it; blob is empty). If any read fails, nothing is opened: the reply is
       * 'fetchFailed', and the engine reads the batch through the store.
       */
      reads?: DirectRead[];
    };

/** One O_DIRECT read: `length` bytes (whole aligned blocks) of fd at `offset` into the buffer at `at` (aligned too); the first `need` must arrive (the rest may lie past the file's end). */
export interface DirectRead {
  fd: number;
  offset: number;
  length: number;
  at: number;
  need: number;
}

/** One prepared ranged GET and where its body goes in the batch buffer. */
export interface FetchRange {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  at: number;
  length: number;
}

export type WorkerReply =
  | { type: 'ok'; job: number; seg?: ArrayBuffer }
  /** seg is returned at once (and nothing is held) when every chunk of the segment is zero. */
  | { type: 'hashed'; job: number; ids: ArrayBuffer; shas: ArrayBuffer; zeroMask: Uint8Array; seg?: ArrayBuffer }
  | { type: 'sealed'; job: number; seg: ArrayBuffer; blobLen: number; lens: Uint32Array; rawLens: Uint32Array; flags: Uint8Array }
  /** blob is the request's buffer, handed back so the engine reuses it for the next batch. */
  /** shas: 32 bytes per chunk when the request asked for check, else empty. */
  | { type: 'opened'; job: number; shas: ArrayBuffer; bad: number[]; blob: ArrayBuffer }
  /** failed: indices into the request's fetch; reason names the status or error code, never the request. */
  | { type: 'fetchFailed'; job: number; blob: ArrayBuffer; failed: number[]; reason: string }
  | { type: 'error'; job: number; message: string; code?: string | undefined };
