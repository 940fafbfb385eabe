import * as http from 'node:http';
import * as https from 'node:https';
import { createRequire } from 'node:module';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { CofferError } from '../errors.js';
import { classify, createOnlyWithRetry, readOrNull, withRetry, type RemoteContext } from './retry.js';
import {
  asBuffer,
  DEFAULT_PART_SIZE,
  DEFAULT_SINGLE_PUT_MAX,
  newCounters,
  prefixed,
  PROBE_PREFIX,
  prepareOnly,
  probeCreateOnly,
  REMOTE_IO_HINTS,
  RequestPrepared,
  readBody,
  readBodyInto,
  remoteContext,
  type ListedObject,
  type RemoteStoreOptions,
  type ResponseBody,
  type StoreCounters,
} from './remote.js';
import { checkKey, collectPages, ObjectNotFound, type ObjectInfo, type ObjectStore, type PreparedRequest, type StoreIoHints } from './storage.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3StoreParams {
  bucket: string;
  prefix: string;
  region: string;
  /** A custom endpoint (MinIO, s3rver, another provider): path-style requests to it. */
  endpoint?: string;
  credentials: S3Credentials;
  /** Shown to the admin: the location without secrets. */
  location: string;
}

const MIN_PART = 5 * 1024 * 1024;

/**
 * A vault in an S3 bucket (AWS or any S3-compatible server). Objects up to singlePutMax go up in
 * one PutObject, larger ones as a multipart upload that is aborted on failure; either way the
 * object appears whole or not at all. Bodies are Buffers sent with their length and no
 * streaming (aws-chunked) signature or flexible checksum, which several S3-compatible servers
 * (s3rver among them) would store raw. Create-only writes send If-None-Match: *; whether the
 * server enforces it is probed at connect time (`conditionalCreate`).
 */
export class S3Store implements ObjectStore {
  readonly location: string;
  conditionalCreate = false;
  readonly ioHints: StoreIoHints = REMOTE_IO_HINTS;
  readonly counters: StoreCounters;
  private readonly client: S3Client;
  private readonly ctx: RemoteContext;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly singlePutMax: number;
  private readonly partSize: number;
  private readonly partConcurrency: number;
  private readonly listPageSize: number;

  private readonly sdk: typeof S3Sdk;

  /** Loads the SDK on first use: installs with local vaults only never pay for it. */
  static async create(params: S3StoreParams, opts: RemoteStoreOptions = {}): Promise<S3Store> {
    // The SDK warns on every Node below 22 from 2027 on; Coffer supports Node 20.19 and the admin can do nothing about it.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    // require, not import(): the package is CommonJS, and import() of it runs the ESM loader's
    // export scan over its bundle and every module it re-exports, which doubled the load
    // (Node 20: 0.42-0.48 CPU-s with import(), 0.24-0.29 with require; once per process).
    return new S3Store(createRequire(import.meta.url)('@aws-sdk/client-s3') as typeof S3Sdk, params, opts);
  }

  private constructor(sdk: typeof S3Sdk, params: S3StoreParams, opts: RemoteStoreOptions) {
    this.sdk = sdk;
    this.location = params.location;
    this.bucket = params.bucket;
    this.prefix = params.prefix;
    this.counters = opts.counters ?? newCounters();
    const endpoint = params.endpoint ?? `https://s3.${params.region}.amazonaws.com`;
    const secrets = [params.credentials.secretAccessKey, ...(params.credentials.sessionToken ? [params.credentials.sessionToken] : [])];
    this.ctx = remoteContext(`${endpoint}/${params.bucket}`, secrets, this.counters, opts.retry);
    const agentOptions = { keepAlive: true, maxSockets: 16 };
    this.client = new sdk.S3Client({
      region: params.region,
      credentials: params.credentials,
      ...(params.endpoint ? { endpoint: params.endpoint, forcePathStyle: true } : {}),
      // Plain payloads with Content-Length: no aws-chunked bodies, no trailing checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // withRetry() retries (one policy for both backends); the SDK's own retries are off.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: Math.min(10_000, this.ctx.policy.tryTimeoutMs),
        requestTimeout: this.ctx.policy.tryTimeoutMs,
        httpAgent: new http.Agent(agentOptions),
        httpsAgent: new https.Agent(agentOptions),
      },
    });
    // Large bodies are signed as UNSIGNED-PAYLOAD instead of hashing every byte for the signature
    // (one SHA-256 pass over each pack, ~0.5 CPU-s per GiB sent) where nobody can alter them on
    // the way: over https (TLS protects the body; the AWS SDK for Java decides the same) and over http to
    // this machine's loopback (an emulator or a local gateway). Over plain http to another host the
    // payload is hashed and signed, so an altered body is refused at the door instead of found
    // corrupt at the next read (packs and indexes are sealed with AES-GCM either way).
    if (unsignedPayloadAllowed(endpoint)) {
      this.client.middlewareStack.add(
        (next) => async (args) => {
          const req = args.request as { headers?: Record<string, string>; body?: unknown };
          if (req.headers && ArrayBuffer.isView(req.body) && req.body.byteLength >= 64 * 1024) req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
          return next(args);
        },
        { step: 'build', name: 'cofferUnsignedPayload' },
      );
    }
    this.singlePutMax = opts.singlePutMax ?? DEFAULT_SINGLE_PUT_MAX;
    this.partSize = Math.max(MIN_PART, opts.partSize ?? DEFAULT_PART_SIZE);
    this.partConcurrency = opts.partConcurrency ?? 4;
    this.listPageSize = opts.listPageSize ?? 1000;
  }

  private key(key: string): string {
    return prefixed(this.prefix, checkKey(key));
  }

  /** Creates the bucket if it is missing (vault create); false when it already existed. */
  async createBucket(): Promise<boolean> {
    const exists = await withRetry(this.ctx, 'looking for the bucket', async (abortSignal) => {
      try {
        await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.bucket }), { abortSignal });
        return true;
      } catch (e) {
        if (classify(e).kind === 'notFound') return false;
        throw e;
      }
    });
    if (exists) return false;
    return withRetry(this.ctx, 'creating the bucket', async (abortSignal) => {
      try {
        await this.client.send(new this.sdk.CreateBucketCommand({ Bucket: this.bucket }), { abortSignal });
        return true;
      } catch (e) {
        // BucketAlreadyOwnedByYou: another install created it a moment ago.
        if (classify(e).kind === 'conflict') return false;
        throw e;
      }
    });
  }

  /** Runs the create-only probe (see probeCreateOnly) and records the result in conditionalCreate. */
  async probe(): Promise<boolean> {
    this.conditionalCreate = await probeCreateOnly({ createOnly: (k, d) => this.createOnly(k, d), delete: (k) => this.delete(k) });
    return this.conditionalCreate;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const body = asBuffer(data);
    const Key = this.key(key);
    if (body.length <= this.singlePutMax) {
      await withRetry(this.ctx, `writing ${key}`, (abortSignal) =>
        this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ContentLength: body.length }), { abortSignal }),
      );
    } else {
      // Parts in parallel (bounded), completed by one request; on failure the upload is aborted.
      const parts = Math.ceil(body.length / this.partSize);
      await withRetry(
        this.ctx,
        `writing ${key}`,
        async (abortSignal) => {
          const abortController = new AbortController();
          const onAbort = (): void => abortController.abort();
          abortSignal.addEventListener('abort', onAbort, { once: true });
          try {
            const { Upload } = await import('@aws-sdk/lib-storage');
            const up = new Upload({
              client: this.client,
              params: { Bucket: this.bucket, Key, Body: body },
              partSize: this.partSize,
              queueSize: this.partConcurrency,
              leavePartsOnError: false,
              abortController,
            });
            await up.done();
          } finally {
            abortSignal.removeEventListener('abort', onAbort);
          }
        },
        parts + 2,
      );
    }
    this.counters.bytesUp += body.length;
  }

  /** One conditional PutObject: true if it created the object, false if the server refused. */
  private async createOnly(key: string, data: Buffer): Promise<boolean> {
    const Key = this.key(key);
    return createOnlyWithRetry(this.ctx, key, data, (k) => this.get(k), async (abortSignal) => {
      await this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key, Body: data, ContentLength: data.length, IfNoneMatch: '*' }), { abortSignal });
      this.counters.bytesUp += data.length;
    });
  }


  async putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    // The server ignores If-None-Match (the probe said so): looking first is the best effort;
    // the lock protocol for such servers does not rely on this.
    if (!this.conditionalCreate && (await this.stat(key))) return false;
    return this.createOnly(key, asBuffer(data));
  }

  async get(key: string): Promise<Buffer> {
    const Key = this.key(key);
    const buf = await readOrNull(this.ctx, key, async (abortSignal) => {
      const res = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key }), { abortSignal });
      return await readBody(res.Body as ResponseBody | undefined, res.ContentLength, key);
    });
    if (!buf) throw new ObjectNotFound(key);
    this.counters.bytesDown += buf.length;
    return buf;
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    await this.getRangeInto(key, offset, buf);
    return buf;
  }

  async getRangeInto(key: string, offset: number, into: Uint8Array): Promise<void> {
    if (into.length === 0) return;
    const Key = this.key(key);
    const Range = `bytes=${offset}-${offset + into.length - 1}`;
    const found = await readOrNull(this.ctx, key, async (abortSignal) => {
      const res = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key, Range }), { abortSignal });
      await readBodyInto(res.Body as ResponseBody | undefined, into, key);
      return true;
    });
    if (found === null) throw new ObjectNotFound(key);
    this.counters.bytesDown += into.length;
  }

  /**
   * The GetObject that getRangeInto sends, run through the SDK's whole pipeline (endpoint, path
   * style, SigV4 header signing with the session token if any) and stopped just before it is sent.
   */
  async rangeRequest(key: string, offset: number, length: number): Promise<PreparedRequest> {
    const cmd = new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key), Range: `bytes=${offset}-${offset + length - 1}` });
    // The deserialize step runs after signing (finalizeRequest); priority low: after the deserializer, where the handler would send.
    cmd.middlewareStack.add(
      () => async (args) => {
        throw new RequestPrepared({ url: smithyUrl(args.request as SmithyRequest), headers: { ...(args.request as SmithyRequest).headers }, timeoutMs: this.ctx.policy.tryTimeoutMs });
      },
      { step: 'deserialize', priority: 'low', name: 'cofferPrepareOnly' },
    );
    const req = await prepareOnly(() => this.client.send(cmd));
    this.ctx.count(1);
    this.counters.bytesDown += length;
    return req;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const Key = this.key(key);
    return readOrNull(this.ctx, key, async (abortSignal) => {
      const res = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key }), { abortSignal });
      return { key, size: res.ContentLength ?? 0 };
    });
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return collectPages(this.listPages(prefix));
  }

  /** The service's own pages (listPageSize keys each), one request at a time. */
  async *listPages(prefix: string): AsyncGenerator<ObjectInfo[]> {
    for await (const page of this.pagesWithDates(prefix)) yield page.map(({ key, size }) => ({ key, size }));
  }

  private async *pagesWithDates(prefix: string): AsyncGenerator<ListedObject[]> {
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    const Prefix = prefixed(this.prefix, prefix);
    let token: string | undefined;
    do {
      const page = await withRetry(this.ctx, `listing ${prefix || 'the vault'}`, (abortSignal) =>
        this.client.send(
          new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix, MaxKeys: this.listPageSize, ...(token ? { ContinuationToken: token } : {}) }),
          { abortSignal },
        ),
      );
      const out: ListedObject[] = [];
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        out.push({ key: o.Key.slice(strip), size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
      }
      yield out;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    const Key = this.key(key);
    await withRetry(this.ctx, `deleting ${key}`, async (abortSignal) => {
      try {
        await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal });
      } catch (e) {
        if (classify(e).kind !== 'notFound') throw e;
      }
    });
  }

  /**
   * Aborts multipart uploads of this vault started before the horizon (the vault sweeps with
   * max(1 h, the stale-lock horizon): no live writer uploads one object for that long) (a writer that died
   * mid-upload leaves its parts billed but invisible) and removes stale probe objects.
   * Servers without ListMultipartUploads (s3rver) just skip the first part.
   */
  async sweepTemp(olderThanMs: number): Promise<number> {
    const limit = Date.now() - olderThanMs;
    let removed = 0;
    const Prefix = prefixed(this.prefix, '');
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      do {
        const page = await withRetry(this.ctx, 'listing abandoned uploads', (abortSignal) =>
          this.client.send(
            new this.sdk.ListMultipartUploadsCommand({
              Bucket: this.bucket,
              Prefix,
              ...(keyMarker ? { KeyMarker: keyMarker } : {}),
              ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
            }),
            { abortSignal },
          ),
        );
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId || (u.Initiated?.getTime() ?? 0) >= limit) continue;
          const { Key, UploadId } = u;
          await withRetry(this.ctx, 'aborting an abandoned upload', (abortSignal) =>
            this.client.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }), { abortSignal }),
          );
          removed++;
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
    } catch (e) {
      // Servers without multipart listing (s3rver answers 501 NotImplemented) have nothing to clean
      // up that Coffer could see: skip quietly. Anything else (unreachable, auth) is a real failure.
      if (!lacksMultipartListing(e)) throw e;
    }
    for (const o of await collectPages(this.pagesWithDates(PROBE_PREFIX))) {
      if (o.lastModified < limit) {
        await this.delete(o.key);
        removed++;
      }
    }
    return removed;
  }
}

/** The parts of a smithy HttpRequest a URL is made of. */
interface SmithyRequest {
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
}

/** The URL a smithy HttpRequest goes to (path as the SDK encoded and signed it). */
function smithyUrl(r: SmithyRequest): string {
  const q: string[] = [];
  for (const [k, v] of Object.entries(r.query ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) q.push(one === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(one)}`);
  }
  const host = r.hostname.includes(':') && !r.hostname.startsWith('[') ? `[${r.hostname}]` : r.hostname;
  return `${r.protocol}//${host}${r.port ? `:${r.port}` : ''}${r.path}${q.length > 0 ? `?${q.join('&')}` : ''}`;
}

/**
 * Whether request bodies to this endpoint may go unsigned (UNSIGNED-PAYLOAD): https endpoints, and
 * http ones on the loopback interface (127.0.0.0/8, ::1, localhost), where no one sits between.
 */
export function unsignedPayloadAllowed(endpoint: string): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The server does not offer ListMultipartUploads: withRetry's failure is "HTTP 501 ..." (s3rver), "HTTP 405 ..." or names NotImplemented. */
function lacksMultipartListing(e: unknown): boolean {
  const failure = e instanceof CofferError ? e.details?.failure : undefined;
  return typeof failure === 'string' && /^HTTP (501|405)\b|NotImplemented|MethodNotAllowed/.test(failure);
}
