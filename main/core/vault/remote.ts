import { randomBytes } from 'node:crypto';
import { DEFAULT_RETRY, redactor, type RemoteContext, type RetryPolicy } from './retry.js';
import type { ObjectInfo, PreparedRequest, StoreIoHints } from './storage.js';

/** What both object-store backends share: counters, options, body reading and the probe. */

/** Requests sent (each retry counts: object stores bill per request) and bytes moved. */
export interface StoreCounters {
  requests: number;
  bytesUp: number;
  bytesDown: number;
}

export const newCounters = (): StoreCounters => ({ requests: 0, bytesUp: 0, bytesDown: 0 });

export interface RemoteStoreOptions {
  retry?: RetryPolicy;
  /** Keys per list request (the services cap it at 1000, their default); tests use small pages. */
  listPageSize?: number;
  /** Objects up to this size go up in one request; larger ones as blocks or multipart parts. */
  singlePutMax?: number;
  /** Block or part size above singlePutMax (at least 5 MiB for S3). */
  partSize?: number;
  /** Blocks or parts in flight for one large object. */
  partConcurrency?: number;
  /** Shared counters (the bench reports requests per GiB). */
  counters?: StoreCounters;
}

export const DEFAULT_SINGLE_PUT_MAX = 64 * 1024 * 1024;
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/**
 * Request sizing on Azure Blob and S3 (see StoreIoHints). Restore batches hold a whole pack and
 * follow packs, not disk order (remote-fetch.ts): one GET per pack instead of about two
 * (a 512 MiB restore on s3rver: 71 -> 40 requests, the emulator's CPU down 10-25%). Measured on azurite and s3rver (1 GiB
 * reference image, CPU seconds of Coffer + emulator, which share the cores): 16 MiB packs instead
 * of 8 MiB, and restore batches of 16 MiB instead of 4 MiB sorted by pack, halved the requests
 * (211 -> 93 per GiB on a full backup, 398 -> 173 on a restore) and cut the emulator's CPU by 15
 * to 70% in most runs on a loaded machine (azurite's on a full backup varied too much to tell).
 * A pack takes whole 4 MiB segments and closes when the next one does not fit: the 256 KiB above
 * 16 MiB hold the 28-byte seal of every chunk, so four segments of incompressible data fill one
 * pack (at exactly 16 MiB only three would). Memory: pack buffers 3 x 16 MiB, restore buffers
 * about 5 x 16 MiB (peak RSS measured 180-200 MiB on a backup, 220-245 MiB on a restore).
 */
const REMOTE_PACK_BYTES = 16 * 1024 * 1024 + 256 * 1024;
export const REMOTE_IO_HINTS: StoreIoHints = Object.freeze({
  packBytes: REMOTE_PACK_BYTES,
  packsInFlight: 2,
  // A restore batch holds a whole pack (restore batches follow packs there: remote-fetch.ts).
  readBatchBytes: REMOTE_PACK_BYTES,
  readBatchesInFlight: 4,
});

/** Objects written by the create-only probe live here, outside every prefix the engine reads. */
export const PROBE_PREFIX = 'probe/';

export interface ListedObject extends ObjectInfo {
  lastModified: number;
}

export function remoteContext(endpoint: string, secrets: readonly string[], counters: StoreCounters, policy: RetryPolicy = DEFAULT_RETRY): RemoteContext {
  return {
    endpoint,
    policy,
    count: (n) => {
      counters.requests += n;
    },
    redact: redactor(secrets),
  };
}

/** Joins a vault prefix ("team/vault1", may be empty) and a key. */
export const prefixed = (prefix: string, key: string): string => (prefix ? `${prefix}/${key}` : key);

/** What both SDKs hand back as a response body in Node: an http.IncomingMessage or a Readable wrapping one. */
export type ResponseBody = NodeJS.ReadableStream | AsyncIterable<Uint8Array>;

const isEventStream = (b: ResponseBody): b is NodeJS.ReadableStream => typeof (b as NodeJS.ReadableStream).on === 'function';

/**
 * Reads a response body into `into` exactly; a shorter or longer body is an error (and retried).
 * 'data' events, not async iteration: the iterator adds a promise and a stream read() to every
 * 64 KiB socket read (a plain Node client on loopback used 25% more CPU per byte with it).
 */
export async function readBodyInto(body: ResponseBody | undefined, into: Uint8Array, what: string): Promise<void> {
  if (!body) throw new Error(`empty response body for ${what}`);
  let done = 0;
  if (!isEventStream(body)) {
    for await (const chunk of body) {
      if (done + chunk.length > into.length) throw new Error(`response body for ${what} is longer than ${into.length} bytes`);
      into.set(chunk, done);
      done += chunk.length;
    }
  } else {
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        body.removeListener('data', onData);
        body.removeListener('end', onEnd);
        body.removeListener('error', onError);
        body.removeListener('close', onEnd);
      };
      const fail = (e: Error): void => {
        cleanup();
        (body as { destroy?: (e?: Error) => void }).destroy?.();
        reject(e);
      };
      const onData = (chunk: Uint8Array | string): void => {
        if (typeof chunk === 'string') return fail(new Error(`response body for ${what} is text, not bytes`));
        if (done + chunk.length > into.length) return fail(new Error(`response body for ${what} is longer than ${into.length} bytes`));
        into.set(chunk, done);
        done += chunk.length;
      };
      // 'end' after the whole body; a connection that breaks off mid-body closes the stream
      // without it: either way the length check below decides.
      const onEnd = (): void => {
        cleanup();
        resolve();
      };
      const onError = (e: Error): void => fail(e);
      body.on('data', onData);
      body.once('end', onEnd);
      body.once('error', onError);
      body.once('close', onEnd);
    });
  }
  if (done !== into.length) throw new Error(`short response body for ${what}: ${done} of ${into.length} bytes (connection lost)`);
}

/** Reads a whole response body (size unknown up front, or known: then preallocated). */
export async function readBody(body: ResponseBody | undefined, length: number | undefined, what: string): Promise<Buffer> {
  if (length !== undefined) {
    const buf = Buffer.allocUnsafe(length);
    await readBodyInto(body, buf, what);
    return buf;
  }
  if (!body) throw new Error(`empty response body for ${what}`);
  const parts: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array>) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** A Buffer view of the caller's bytes (no copy): the SDKs need a body of known length. */
export const asBuffer = (data: Uint8Array): Buffer => (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

/**
 * Whether the service enforces create-only writes: writes a probe object with If-None-Match: *,
 * writes it again with the same condition and expects a refusal (some S3-compatible servers
 * accept the header and overwrite anyway). The probe object is removed either way.
 */
export async function probeCreateOnly(store: {
  createOnly(key: string, data: Buffer): Promise<boolean>;
  delete(key: string): Promise<void>;
}): Promise<boolean> {
  const key = `${PROBE_PREFIX}${Date.now()}-${randomBytes(8).toString('hex')}`;
  try {
    const first = await store.createOnly(key, Buffer.from('probe 1'));
    if (!first) return false; // a random key that exists: the condition means nothing here
    return !(await store.createOnly(key, Buffer.from('probe 2')));
  } finally {
    await store.delete(key);
  }
}

/**
 * Thrown by the last step of an SDK's pipeline instead of sending (rangeRequest): the request as
 * the SDK built and signed it. Its message names nothing: the request holds a signature.
 */
export class RequestPrepared extends Error {
  constructor(readonly request: PreparedRequest) {
    super('request prepared, not sent');
    this.name = 'RequestPrepared';
  }
}

/** Runs an SDK call whose pipeline ends in RequestPrepared and returns that request. */
export async function prepareOnly(call: () => Promise<unknown>): Promise<PreparedRequest> {
  try {
    await call();
  } catch (e) {
    if (e instanceof RequestPrepared) return e.request;
    throw e;
  }
  throw new Error('the storage SDK sent a request that was to be prepared only');
}
