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
      fd: number;
      positions?: Float64Array;
    };

export type WorkerReply =
  | { type: 'ok'; job: number; seg?: ArrayBuffer }
  /** seg is returned at once (and nothing is held) when every chunk of the segment is zero. */
  | { type: 'hashed'; job: number; ids: ArrayBuffer; shas: ArrayBuffer; zeroMask: Uint8Array; seg?: ArrayBuffer }
  | { type: 'sealed'; job: number; seg: ArrayBuffer; blobLen: number; lens: Uint32Array; rawLens: Uint32Array; flags: Uint8Array }
  /** blob is the request's buffer, handed back so the engine reuses it for the next batch. */
  | { type: 'opened'; job: number; shas: ArrayBuffer; bad: number[]; blob: ArrayBuffer }
  | { type: 'error'; job: number; message: string; code?: string | undefined };
