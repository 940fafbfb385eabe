import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { newCounters } from '../../../main/core/vault/remote.js';
import { openStore } from '../../../main/core/vault/stores.js';

/**
 * Throttling and refusals as a server sends them: a small S3-speaking HTTP server on 127.0.0.1
 * whose answers the test scripts (503 SlowDown, 403), so retries are counted exactly.
 */
let server: http.Server;
let endpoint = '';
/** Status codes to answer the next PUTs with before succeeding (a queue). */
let script: number[] = [];
let puts = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method !== 'PUT') {
        // The create-only probe's reads and deletes, and HEAD: nothing there.
        res.writeHead(req.method === 'DELETE' ? 204 : 404, { 'Content-Type': 'application/xml' });
        res.end(req.method === 'HEAD' || req.method === 'DELETE' ? undefined : '<Error><Code>NoSuchKey</Code></Error>');
        return;
      }
      puts++;
      const status = script.shift() ?? 200;
      if (status === 200) {
        res.writeHead(200, { ETag: '"e"' });
        res.end();
        return;
      }
      const code = status === 503 ? 'SlowDown' : 'AccessDenied';
      res.writeHead(status, { 'Content-Type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>scripted</Message></Error>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const retry = { maxTries: 4, baseDelayMs: 10, maxDelayMs: 40, tryTimeoutMs: 10_000 };
const secretAccessKey = 'do-not-show-this-secret-key-0123456789';

async function store(counters = newCounters()): Promise<Awaited<ReturnType<typeof openStore>> & { counters: typeof counters }> {
  script = [];
  const s = await openStore(
    { kind: 's3', bucket: 'bucket', prefix: 'v', endpoint, region: 'us-east-1' },
    { credentials: { s3: { accessKeyId: 'AKID', secretAccessKey } }, retry, counters },
  );
  return Object.assign(s, { counters });
}

describe('retries against a throttling server', () => {
  it('rides out 503 SlowDown with retries, each one counted as a request', async () => {
    const s = await store();
    script = [503, 503];
    puts = 0;
    const before = s.counters.requests;
    await s.put('packs/a', Buffer.alloc(100_000, 1));
    expect(puts).toBe(3);
    expect(s.counters.requests - before).toBe(3);
  });

  it('gives up after the bounded number of tries with StorageUnreachable naming the endpoint', async () => {
    const s = await store();
    script = [503, 503, 503, 503, 503];
    puts = 0;
    const e = await s.put('packs/b', Buffer.from('x')).catch((err: unknown) => err);
    expect(isCofferError(e, 'StorageUnreachable')).toBe(true);
    expect((e as Error).message).toContain(endpoint);
    expect((e as Error).message).toContain('503');
    expect(puts).toBe(4);
  });

  it('does not retry a refusal: 403 is StorageAuthFailed at once, without the secret', async () => {
    const s = await store();
    script = [403];
    puts = 0;
    const e = await s.put('packs/c', Buffer.from('x')).catch((err: unknown) => err);
    expect(isCofferError(e, 'StorageAuthFailed')).toBe(true);
    expect((e as Error).message).not.toContain(secretAccessKey);
    expect(puts).toBe(1);
  });
});
