import { ObjectNotFound } from './storage.js';
import { setTimeout as delay } from 'node:timers/promises';
import { CofferError } from '../errors.js';

/**
 * How object stores (Azure Blob, S3) retry: one policy for both, applied here rather than inside
 * each SDK (their own retries are switched off), so a request is counted once per attempt, a body
 * that breaks off mid-read is retried like any other failure, and the limits are the same.
 */
export interface RetryPolicy {
  /** Attempts per request, the first included. */
  maxTries: number;
  /** Delay before the first retry; it doubles each time (with jitter) up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** An attempt is abandoned (and retried) when it makes no progress for this long. */
  tryTimeoutMs: number;
}

/** 5 attempts over about 8 s: rides out a throttling burst or a restarting endpoint, then fails clearly. */
export const DEFAULT_RETRY: RetryPolicy = { maxTries: 5, baseDelayMs: 500, maxDelayMs: 8_000, tryTimeoutMs: 120_000 };

/**
 * What a failed request means. `transient`: worth retrying (connection refused or reset,
 * timeout, 408, 429, 500, 502, 503, 504); `auth`: 401/403; `notFound`: 404; `conflict`: 409/412 (a create-only
 * write lost); `fatal`: anything else.
 */
export type FailureKind = 'transient' | 'auth' | 'notFound' | 'conflict' | 'fatal';

export interface Failure {
  kind: FailureKind;
  /** A short description without secrets, e.g. "HTTP 403 AuthenticationFailed" or "ECONNREFUSED". */
  detail: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  'REQUEST_SEND_ERROR',
]);
const NETWORK_NAMES = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutException']);

interface HttpishError {
  name?: string;
  code?: string;
  statusCode?: number;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** Classifies an error of either SDK (Azure RestError: statusCode/code; AWS: $metadata/name/code). */
export function classify(e: unknown): Failure {
  const err = (e ?? {}) as HttpishError;
  const status = err.statusCode ?? err.$metadata?.httpStatusCode;
  const code = err.code ?? (err.name && err.name !== 'Error' ? err.name : undefined);
  if (typeof status === 'number' && status > 0) {
    const detail = `HTTP ${status}${code && code !== String(status) ? ` ${code}` : ''}`;
    if (status === 401 || status === 403) return { kind: 'auth', detail };
    if (status === 404) return { kind: 'notFound', detail };
    if (status === 409 || status === 412) return { kind: 'conflict', detail };
    // 501 Not Implemented and 505 are answers, not hiccups: retrying cannot help.
    if (status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504) return { kind: 'transient', detail };
    return { kind: 'fatal', detail };
  }
  const causeCode = (err.cause as HttpishError | undefined)?.code;
  for (const c of [err.code, causeCode]) if (c && NETWORK_CODES.has(c)) return { kind: 'transient', detail: c };
  if (err.name && NETWORK_NAMES.has(err.name)) return { kind: 'transient', detail: err.name };
  // A response that broke off mid-body ("aborted", "premature close") is a network failure too.
  const msg = (e as Error | undefined)?.message ?? '';
  if (/socket hang up|premature close|aborted|other side closed|ECONNRESET|timed? ?out/i.test(msg)) return { kind: 'transient', detail: 'connection lost' };
  return { kind: 'fatal', detail: err.name ?? 'error' };
}

/** Who is calling, for the messages and the request count. */
export interface RemoteContext {
  /** The endpoint as shown to the admin (no secrets). */
  readonly endpoint: string;
  readonly policy: RetryPolicy;
  /** Called once per attempt (object stores bill per request). */
  count(requests: number): void;
  /** Removes secrets (keys, SAS signatures) from a text. */
  redact(text: string): string;
}

/**
 * Runs one request with retries and backoff. `op` must be repeatable and handle the failures it
 * expects itself (404 on a read, 412 on a create-only write); every other failure is retried when
 * transient and then surfaces as a CofferError: StorageUnreachable naming the endpoint,
 * StorageAuthFailed, or Internal, always without secrets (the SDK's error object, which carries
 * the request, never leaves this function).
 */
export async function withRetry<T>(ctx: RemoteContext, what: string, op: (signal: AbortSignal) => Promise<T>, requests = 1): Promise<T> {
  let last: Failure = { kind: 'transient', detail: 'no attempt' };
  let lastMessage = '';
  for (let attempt = 1; attempt <= ctx.policy.maxTries; attempt++) {
    if (attempt > 1) await delay(backoff(ctx.policy, attempt - 1));
    ctx.count(requests);
    const signal = AbortSignal.timeout(ctx.policy.tryTimeoutMs);
    try {
      return await op(signal);
    } catch (e) {
      if (e instanceof CofferError) throw e;
      last = signal.aborted ? { kind: 'transient', detail: `no answer within ${Math.round(ctx.policy.tryTimeoutMs / 1000)} s` } : classify(e);
      lastMessage = (e as Error | undefined)?.message ?? String(e);
      if (last.kind !== 'transient') break;
    }
  }
  throw toCofferError(ctx, what, last, lastMessage);
}

function backoff(policy: RetryPolicy, retry: number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return cap / 2 + Math.random() * (cap / 2);
}

function toCofferError(ctx: RemoteContext, what: string, f: Failure, message: string): CofferError {
  const details = { endpoint: ctx.endpoint, failure: f.detail };
  if (f.kind === 'transient') {
    const why = f.detail.startsWith('HTTP ') ? `The vault storage at ${ctx.endpoint} keeps failing` : `Cannot reach the vault storage at ${ctx.endpoint}`;
    return new CofferError('StorageUnreachable', `${why} (${f.detail}, ${ctx.policy.maxTries} tries, while ${what}).`, details);
  }
  if (f.kind === 'auth') {
    return new CofferError('StorageAuthFailed', `The vault storage at ${ctx.endpoint} refused the credentials (${f.detail}, while ${what}).`, details);
  }
  if (f.kind === 'notFound') {
    return new CofferError('StorageContainerNotFound', `The vault storage at ${ctx.endpoint} has no such container or bucket (${f.detail}, while ${what}).`, details);
  }
  return new CofferError('Internal', ctx.redact(`The vault storage at ${ctx.endpoint} failed while ${what}: ${f.detail}: ${firstLine(message)}`), details);
}

const firstLine = (s: string): string => s.split('\n')[0]!.slice(0, 300);

/** SAS and presigned-URL query parameters whose values are secrets. */
const SECRET_PARAMS = /([?&](?:sig|se|st|sp|spr|sv|sr|srt|ss|skoid|sktid|skt|ske|sks|skv|sdd|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&\s"'<>]*/gi;

/** A redactor for the given secrets (each replaced by ***), which also blanks SAS parameters. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const list = secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.replace(SECRET_PARAMS, '$1***');
    for (const s of list) out = out.split(s).join('***');
    return out;
  };
}

/**
 * A create-only write (If-None-Match: *) with retries: true if it created the object, false if
 * one existed. After a lost answer, a conflict may be our own first attempt: the same bytes are ours.
 */
export async function createOnlyWithRetry(
  ctx: RemoteContext,
  key: string,
  data: Buffer,
  read: (key: string) => Promise<Buffer>,
  attempt: (signal: AbortSignal) => Promise<void>,
): Promise<boolean> {
  let tries = 0;
  return withRetry(ctx, `creating ${key}`, async (signal) => {
    tries++;
    try {
      await attempt(signal);
      return true;
    } catch (e) {
      if (classify(e).kind !== 'conflict') throw e;
      return tries > 1 && (await sameContent(read, key, data));
    }
  });
}

async function sameContent(read: (key: string) => Promise<Buffer>, key: string, data: Buffer): Promise<boolean> {
  try {
    return (await read(key)).equals(data);
  } catch (e) {
    if (e instanceof ObjectNotFound) return false;
    throw e;
  }
}

/** A read with retries that answers null where the object does not exist (any other failure throws). */
export function readOrNull<T>(ctx: RemoteContext, key: string, op: (signal: AbortSignal) => Promise<T>): Promise<T | null> {
  return withRetry(ctx, `reading ${key}`, async (signal) => {
    try {
      return await op(signal);
    } catch (e) {
      if (classify(e).kind === 'notFound') return null;
      throw e;
    }
  });
}
