// No request can stop the host (issue 10, item 1). A real `coffer serve` child process gets a
// malformed percent-encoding, then thousands of random request lines, headers and WebSocket
// payloads (fast-check, fixed seed), and must answer every one with a 4xx or a typed error and
// still answer a valid call afterwards. COFFER_FUZZ_RUNS raises the count (`npm run bench -- --fuzz`).
import * as net from 'node:net';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { methodNameList } from '../../preload/method-names.js';
import { startServe } from '../helpers/cli.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const RUNS = Number(process.env.COFFER_FUZZ_RUNS ?? 1500);
const SEED = Number(process.env.COFFER_FUZZ_SEED ?? 20261201);

let host: Awaited<ReturnType<typeof startServe>>;
let port = 0;
let token = '';
let origin = '';

beforeAll(async () => {
  host = await startServe(path.join(tmp(), 'data'), ['--no-scheduler']);
  port = Number(host.url.port);
  token = new URLSearchParams(host.url.hash.slice(1)).get('token') ?? '';
  origin = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  expect(await host.stop()).toBe(0);
});

/** Sends raw bytes as one HTTP request; resolves with the status the host answered (0: it closed). */
function rawRequest(bytes: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${JSON.stringify(bytes.slice(0, 200))}`));
    }, 10_000);
    const done = (status: number) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(status);
    };
    socket.on('data', (d) => {
      data += d.toString('latin1');
      if (data.includes('\r\n\r\n')) done(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? -1));
    });
    socket.on('close', () => done(data ? Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? -1) : 0));
    socket.on('error', () => undefined);
    socket.write(bytes, 'latin1');
  });
}

function openSocket(): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`, { origin });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** A reply for every message: by id when the message had a numeric one, else id null, in order. */
function replies(ws: WebSocket): (id: number | null) => Promise<unknown> {
  const waiting = new Map<string, ((r: unknown) => void)[]>();
  ws.on('message', (d) => {
    const msg = JSON.parse(d.toString()) as { id?: number | null; event?: string; result?: unknown };
    if (msg.event !== undefined) return;
    const key = String(msg.id);
    waiting.get(key)?.shift()?.(msg);
  });
  return (id) =>
    new Promise((resolve) => {
      const key = String(id);
      if (!waiting.has(key)) waiting.set(key, []);
      waiting.get(key)!.push(resolve);
    });
}

async function stillAnswers(): Promise<void> {
  expect(host.child.exitCode).toBeNull();
  const ws = await openSocket();
  const next = replies(ws);
  const got = next(1);
  ws.send(JSON.stringify({ id: 1, method: 'engineInfo', args: {} }));
  expect(await got).toMatchObject({ id: 1, result: { ok: true, value: { face: 'browser' } } });
  ws.close();
}

const requestText = fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''));
const percentGarbage = fc
  .array(fc.oneof(fc.constantFrom('%', '%E0', '%A4', '%A', '%00', '%2e%2e', '%2F', '..', '/', '\\', '%C0%AF', '%FF', '?', '#', '%%'), fc.string({ maxLength: 4 })), { maxLength: 12 })
  .map((parts) => `/${parts.join('')}`.replace(/[\s]/g, ''));
const target = fc.oneof(fc.webPath(), percentGarbage, requestText.map((s) => `/${s}`), fc.constantFrom('*', '//evil.example/x', 'http://evil/', '/ws', '/host-proof?nonce=', '/host-proof?nonce=%E0'));
const headerName = fc.oneof(
  fc.constantFrom('origin', 'cookie', 'upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'authorization', 'host', '__proto__', 'constructor'),
  fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/),
);
const headerValue = fc.oneof(requestText, fc.constantFrom('websocket', 'Upgrade', 'http://evil.example', 'null', `coffer_token=x`, '13'), fc.string({ maxLength: 3000 }).map((s) => s.replace(/[\r\n]/g, '')));

describe('the host survives any request', () => {
  it('answers a malformed percent-encoding with 400 and keeps running', async () => {
    expect(await rawRequest(`GET /%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).toBe(400);
    expect(await rawRequest(`GET /%E0%A4%A?token=${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).toBe(400);
    await stillAnswers();
  });

  it('answers random request lines and headers with a status below 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'OPTIONS', 'DELETE', 'BREW', 'G\u00e9T'),
        target,
        fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
        async (method, url, headers) => {
          const lines = [`${method} ${url} HTTP/1.1`, 'Host: 127.0.0.1', ...headers.map(([n, v]) => `${n}: ${v}`), 'Connection: close', '', ''];
          const status = await rawRequest(lines.join('\r\n'));
          expect(status, `${method} ${url}`).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    await stillAnswers();
  });

  it('answers random WebSocket payloads with a typed error or a result, on the same socket', async () => {
    const ws = await openSocket();
    const next = replies(ws);
    const methodName = fc.oneof(
      fc.constantFrom(...methodNameList.filter((m) => /^(list|show|engineInfo|dashboard|troubleshooting|discoveryResult|vaultsToUnlock)/.test(m))),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', ''),
      fc.string({ maxLength: 30 }),
    );
    const args = fc.oneof(
      { arbitrary: fc.anything({ withObjectString: true, withNullPrototype: true, maxDepth: 4 }), weight: 20 },
      { arbitrary: fc.constant(JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}') as unknown), weight: 2 },
      { arbitrary: fc.string({ minLength: 10_000, maxLength: 100_000 }), weight: 1 },
    );
    const callId = fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), fc.string(), fc.double(), fc.constant(null), fc.boolean());
    // Messages as the text on the wire: calls with odd parts, nesting deeper than any parser's stack, any JSON, any text.
    const message = fc.oneof(
      { arbitrary: fc.record({ id: callId, method: methodName, args }).map((m) => JSON.stringify(m)), weight: 20 },
      {
        arbitrary: fc
          .tuple(fc.integer({ min: 1, max: 2 ** 31 }), methodName, fc.integer({ min: 1, max: 5000 }))
          .map(([id, method, depth]) => `{"id":${id},"method":${JSON.stringify(method)},"args":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`),
        weight: 1,
      },
      { arbitrary: fc.integer({ min: 1, max: 100_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`), weight: 1 },
      { arbitrary: fc.anything({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'undefined'), weight: 5 },
      { arbitrary: fc.string({ unit: 'binary', maxLength: 200 }), weight: 5 },
    );
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(message, async (text) => {
        const id = (() => {
          try {
            const parsed = JSON.parse(text) as { id?: unknown; method?: unknown };
            return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && Number.isSafeInteger(parsed.id) && typeof parsed.method === 'string' ? (parsed.id as number) : null;
          } catch {
            return null;
          }
        })();
        const got = next(id);
        ws.send(text);
        sent++;
        const reply = (await got) as { result: { ok: boolean; error?: { code: string; message: string; remedy: string } } };
        if (!reply.result.ok) expect(reply.result.error).toMatchObject({ code: expect.any(String), message: expect.any(String), remedy: expect.any(String) });
      }),
      { numRuns: RUNS, seed: SEED },
    );
    expect(sent).toBeGreaterThanOrEqual(RUNS);
    // Binary frames and a frame over the size limit: the first is a typed error, the second closes that socket only.
    const binary = next(null);
    ws.send(Buffer.from([0xff, 0x00, 0x7b]));
    expect(await binary).toMatchObject({ id: null, result: { ok: false, error: { code: 'InvalidArgument' } } });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('x'.repeat(5 * 1024 * 1024));
    expect(await closed).toBe(1009);
    await stillAnswers();
  });
});
