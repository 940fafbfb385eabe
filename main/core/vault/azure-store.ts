import type * as AzureSdk from '@azure/storage-blob';
import type { ContainerClient } from '@azure/storage-blob';
import { createOnlyWithRetry, readOrNull, withRetry, type RemoteContext } from './retry.js';
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
  type StoreCounters,
} from './remote.js';
import { checkKey, collectPages, ObjectNotFound, type ObjectInfo, type ObjectStore, type PreparedRequest, type StoreIoHints } from './storage.js';

export interface AzureStoreParams {
  /** The account's blob endpoint without query: https://ACCOUNT.blob.core.windows.net or http://127.0.0.1:10000/devstoreaccount1 */
  serviceUrl: string;
  container: string;
  /** Objects live under this prefix ("" for the container root). */
  prefix: string;
  /** An account key, or a SAS token (query string without "?"). */
  credential: { accountName: string; accountKey: string } | { sasToken: string };
  /** Shown to the admin: the location without secrets. */
  location: string;
  /** Texts that must never appear in a message (account key, SAS). */
  secrets: string[];
}

/**
 * A vault in an Azure Blob Storage container (or azurite). Every object is a block blob written in
 * one Put Blob, or as blocks committed by one Put Block List above singlePutMax: either way a
 * reader sees the old object or the new one, never a part (uncommitted blocks are invisible and
 * the service discards them after a week). Create-only writes use If-None-Match: *, which Azure
 * and azurite enforce; `conditionalCreate` says what the probe at connect time found.
 */
export class AzureBlobStore implements ObjectStore {
  readonly location: string;
  conditionalCreate = false;
  readonly ioHints: StoreIoHints = REMOTE_IO_HINTS;
  readonly counters: StoreCounters;
  private readonly container: ContainerClient;
  /** The same container through a pipeline that signs each request and hands it back unsent (rangeRequest). */
  private readonly preparer: ContainerClient;
  private readonly ctx: RemoteContext;
  private readonly prefix: string;
  private readonly singlePutMax: number;
  private readonly partSize: number;
  private readonly partConcurrency: number;
  private readonly listPageSize: number;

  /** Loads the SDK on first use: installs with local vaults only never pay for it. */
  static async create(params: AzureStoreParams, opts: RemoteStoreOptions = {}): Promise<AzureBlobStore> {
    return new AzureBlobStore(await import('@azure/storage-blob'), params, opts);
  }

  private constructor(sdk: typeof AzureSdk, params: AzureStoreParams, opts: RemoteStoreOptions) {
    this.location = params.location;
    this.prefix = params.prefix;
    this.counters = opts.counters ?? newCounters();
    const c = params.credential;
    const sas = 'sasToken' in c ? c.sasToken : undefined;
    const url = `${params.serviceUrl}/${params.container}${sas ? `?${sas}` : ''}`;
    const credential = 'accountKey' in c ? new sdk.StorageSharedKeyCredential(c.accountName, c.accountKey) : new sdk.AnonymousCredential();
    this.ctx = remoteContext(`${params.serviceUrl}/${params.container}`, params.secrets, this.counters, opts.retry);
    // The SDK's own retries are off: withRetry() retries, with one policy for both backends.
    this.container = new sdk.ContainerClient(url, credential, {
      retryOptions: { maxTries: 1, tryTimeoutInMs: this.ctx.policy.tryTimeoutMs },
      keepAliveOptions: { enable: true },
    });
    const timeoutMs = this.ctx.policy.tryTimeoutMs;
    this.preparer = new sdk.ContainerClient(url, credential, {
      retryOptions: { maxTries: 1, tryTimeoutInMs: timeoutMs },
      httpClient: {
        sendRequest: async (req) => {
          const headers: Record<string, string> = {};
          for (const h of req.headers.headersArray()) headers[h.name] = h.value;
          throw new RequestPrepared({ url: req.url, headers, timeoutMs });
        },
      },
    });
    this.singlePutMax = opts.singlePutMax ?? DEFAULT_SINGLE_PUT_MAX;
    this.partSize = opts.partSize ?? DEFAULT_PART_SIZE;
    this.partConcurrency = opts.partConcurrency ?? 4;
    this.listPageSize = opts.listPageSize ?? 1000;
  }

  private blob(key: string): ReturnType<ContainerClient['getBlockBlobClient']> {
    return this.container.getBlockBlobClient(prefixed(this.prefix, checkKey(key)));
  }

  /** Creates the container if it is missing (vault create); false when it already existed. */
  async createContainer(): Promise<boolean> {
    return withRetry(this.ctx, 'creating the container', async (abortSignal) => (await this.container.createIfNotExists({ abortSignal })).succeeded);
  }

  /** Runs the create-only probe (see probeCreateOnly) and records the result in conditionalCreate. */
  async probe(): Promise<boolean> {
    this.conditionalCreate = await probeCreateOnly({ createOnly: (k, d) => this.createOnly(k, d), delete: (k) => this.delete(k) });
    return this.conditionalCreate;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const body = asBuffer(data);
    const blob = this.blob(key);
    if (body.length <= this.singlePutMax) {
      await withRetry(this.ctx, `writing ${key}`, (abortSignal) => blob.upload(body, body.length, { abortSignal }));
    } else {
      // Stage blocks in parallel, then one Put Block List makes the object appear whole.
      const blocks = Math.ceil(body.length / this.partSize);
      await withRetry(
        this.ctx,
        `writing ${key}`,
        (abortSignal) => blob.uploadData(body, { abortSignal, blockSize: this.partSize, concurrency: this.partConcurrency, maxSingleShotSize: this.singlePutMax }),
        blocks + 1,
      );
    }
    this.counters.bytesUp += body.length;
  }

  /** One conditional Put Blob: true if it created the object, false if one existed. */
  private async createOnly(key: string, data: Buffer): Promise<boolean> {
    const blob = this.blob(key);
    return createOnlyWithRetry(this.ctx, key, data, (k) => this.get(k), async (abortSignal) => {
      await blob.upload(data, data.length, { abortSignal, conditions: { ifNoneMatch: '*' } });
      this.counters.bytesUp += data.length;
    });
  }


  async putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    // Without enforcement (never seen on Azure, but the probe decides) the best effort is to look first.
    if (!this.conditionalCreate && (await this.stat(key))) return false;
    return this.createOnly(key, asBuffer(data));
  }

  async get(key: string): Promise<Buffer> {
    const blob = this.blob(key);
    const buf = await readOrNull(this.ctx, key, async (abortSignal) => {
      const res = await blob.download(0, undefined, { abortSignal });
      return await readBody(res.readableStreamBody, res.contentLength, key);
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
    const blob = this.blob(key);
    const found = await readOrNull(this.ctx, key, async (abortSignal) => {
      const res = await blob.download(offset, into.length, { abortSignal });
      await readBodyInto(res.readableStreamBody, into, key);
      return true;
    });
    if (found === null) throw new ObjectNotFound(key);
    this.counters.bytesDown += into.length;
  }

  /**
   * The Get Blob that getRangeInto sends (x-ms-range, x-ms-version, x-ms-date and the SharedKey
   * Authorization header, or the SAS in the URL), signed by the SDK's own pipeline and not sent.
   */
  async rangeRequest(key: string, offset: number, length: number): Promise<PreparedRequest> {
    const blob = this.preparer.getBlockBlobClient(prefixed(this.prefix, checkKey(key)));
    const req = await prepareOnly(() => blob.download(offset, length));
    this.ctx.count(1);
    this.counters.bytesDown += length;
    return req;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const blob = this.blob(key);
    return readOrNull(this.ctx, key, async (abortSignal) => {
      const p = await blob.getProperties({ abortSignal });
      return { key, size: p.contentLength ?? 0 };
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
    const full = prefixed(this.prefix, prefix);
    let token: string | undefined;
    do {
      const page = await withRetry(this.ctx, `listing ${prefix || 'the vault'}`, async (abortSignal) => {
        const it = this.container
          .listBlobsFlat({ prefix: full, abortSignal })
          .byPage({ maxPageSize: this.listPageSize, ...(token ? { continuationToken: token } : {}) });
        return (await it.next()).value;
      });
      if (!page) break;
      const out: ListedObject[] = [];
      for (const b of page.segment.blobItems) {
        out.push({ key: b.name.slice(strip), size: b.properties.contentLength ?? 0, lastModified: b.properties.lastModified.getTime() });
      }
      yield out;
      token = page.continuationToken || undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    const blob = this.blob(key);
    await withRetry(this.ctx, `deleting ${key}`, (abortSignal) => blob.deleteIfExists({ abortSignal }));
  }

  /**
   * Removes probe objects left by a process that died mid-probe. Abandoned uploads need nothing:
   * a writer that dies between Put Block and Put Block List leaves uncommitted blocks, which no
   * listing shows, which Azure Blob Storage (and azurite) garbage-collects by itself after 7 days,
   * and which a later upload of the same name discards; there is no API to list or delete them
   * apart from committing. (S3 multipart uploads, by contrast, live until aborted: see S3Store.)
   */
  async sweepTemp(olderThanMs: number): Promise<number> {
    const limit = Date.now() - olderThanMs;
    let removed = 0;
    for (const o of await collectPages(this.pagesWithDates(PROBE_PREFIX))) {
      if (o.lastModified < limit) {
        await this.delete(o.key);
        removed++;
      }
    }
    return removed;
  }
}
