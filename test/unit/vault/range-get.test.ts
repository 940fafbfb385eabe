import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf, getRangeInto } from '../../../main/core/vault/range-get.js';

// The restore workers' GET reads the body straight into the batch buffer (range-get.ts). A raw
// TCP server (and the same over TLS) sends each response the way a test asks: split at any byte,
// with a wrong status, length or framing, or closed half way, so every path a server can take is
// one the reader meets here. The TLS certificate (127.0.0.1 and localhost, self-signed, valid
// until 2126) is a fixture for these tests only.
const fixture = (f: string): string => fs.readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');
const cert = fixture('tls-test-only.crt');

const object = randomBytes(300 * 1024);
type Answer = (socket: net.Socket, range: { from: number; to: number }, head: string) => void;
let answer: Answer;
let server: net.Server;
let tlsServer: tls.Server;
let base = '';
let tlsBase = '';
let connections = 0;
let requests: string[] = [];

/** A 206 for the asked range, written in pieces of `piece` bytes (headers and body split anywhere). */
const partial =
  (piece = 7001, extra: string[] = []): Answer =>
  (socket, r) => {
    const body = object.subarray(r.from, r.to + 1);
    const head = Buffer.from(
      [`HTTP/1.1 206 Partial Content`, `Content-Range: bytes ${r.from}-${r.to}/${object.length}`, `Content-Length: ${body.length}`, ...extra, '', ''].join('\r\n'),
      'latin1',
    );
    const all = Buffer.concat([head, body]);
    let at = 0;
    const next = (): void => {
      if (at >= all.length) return;
      socket.write(all.subarray(at, at + piece));
      at += piece;
      setImmediate(next);
    };
    next();
  };

beforeAll(async () => {
  const serve = (socket: net.Socket): void => {
    connections++;
    let pending = '';
    socket.on('data', (d) => {
      pending += d.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        requests.push(head);
        const m = /range: bytes=(\d+)-(\d+)/i.exec(head)!;
        answer(socket, { from: Number(m[1]), to: Number(m[2]) }, head);
      }
    });
    socket.on('error', () => {});
  };
  server = net.createServer(serve);
  tlsServer = tls.createServer({ key: fixture('tls-test-only.key'), cert }, serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tlsBase = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
});

const range = (from: number, length: number, path = '/bucket/pack', at = base) => ({
  url: `${at}${path}?x-id=GetObject`,
  headers: { range: `bytes=${from}-${from + length - 1}`, authorization: 'AWS4-HMAC-SHA256 Credential=test', 'x-amz-date': '20261202T000000Z' },
  timeoutMs: 5000,
  at: 0,
  length,
});

async function reason(p: Promise<void>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return failureOf(e);
  }
  return 'no failure';
}

describe('a worker GET over plain http', () => {
  it('reads the range into the buffer whatever the pieces the server sends, and reuses the connection', async () => {
    connections = 0;
    requests = [];
    for (const piece of [1, 13, 7001, 65536, 400 * 1024]) {
      answer = partial(piece);
      const into = Buffer.alloc(piece === 1 ? 3000 : 200 * 1024);
      const from = 1234;
      await getRangeInto(range(from, into.length), into);
      expect(into.equals(object.subarray(from, from + into.length))).toBe(true);
    }
    // The request as the store signed it: its path and query, each header, Host added.
    expect(requests[0]).toMatch(/^GET \/bucket\/pack\?x-id=GetObject HTTP\/1\.1\r\n/);
    expect(requests[0]).toContain('authorization: AWS4-HMAC-SHA256 Credential=test');
    expect(requests[0]).toMatch(/\r\nhost: 127\.0\.0\.1:\d+/);
    // Five GETs one after another on one keep-alive connection.
    expect(connections).toBe(1);
  });

  it('sends GETs in parallel on their own connections, each body into its own buffer', async () => {
    answer = partial(4096);
    const intos = [0, 1, 2, 3].map(() => Buffer.alloc(64 * 1024));
    await Promise.all(intos.map((b, i) => getRangeInto(range(i * 50_000, b.length), b)));
    intos.forEach((b, i) => expect(b.equals(object.subarray(i * 50_000, i * 50_000 + b.length))).toBe(true));
  });

  it('fails with the status or the framing only, never with the request', async () => {
    answer = (s) => s.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!');
    expect(await reason(getRangeInto(range(0, 100), Buffer.alloc(100)))).toBe('HTTP 403');
    answer = partial(1000, ['Transfer-Encoding: chunked']);
    expect(await reason(getRangeInto(range(0, 100), Buffer.alloc(100)))).toBe('HTTP 206 with transfer-encoding chunked');
    // A 200 of the whole object is not the range.
    answer = (s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${object.length}\r\n\r\n`);
    expect(await reason(getRangeInto(range(0, 100), Buffer.alloc(100)))).toBe('HTTP 200');
    // A 206 whose length is not the range's.
    answer = (s) => s.write('HTTP/1.1 206 Partial Content\r\nContent-Length: 99\r\n\r\n');
    expect(await reason(getRangeInto(range(0, 100), Buffer.alloc(100)))).toBe('HTTP 206 with a body of 99 bytes, not 100');
    answer = (s) => s.write('SSH-2.0-OpenSSH\r\n\r\n');
    expect(await reason(getRangeInto(range(0, 100), Buffer.alloc(100)))).toBe('not an HTTP/1.1 response');
  });

  it('fails when the connection breaks off mid-body, and the next GET gets a new connection', async () => {
    answer = (s, r) => {
      s.write(`HTTP/1.1 206 Partial Content\r\nContent-Length: ${r.to - r.from + 1}\r\n\r\n`);
      s.end(object.subarray(r.from, r.from + 10));
    };
    expect(await reason(getRangeInto(range(0, 100), Buffer.alloc(100)))).toBe('connection lost');
    answer = partial();
    const into = Buffer.alloc(100);
    await getRangeInto(range(5, 100), into);
    expect(into.equals(object.subarray(5, 105))).toBe(true);
  });

  it('sends the GET again on a new connection when the server closed the idle one', async () => {
    answer = partial();
    await getRangeInto(range(0, 100), Buffer.alloc(100));
    connections = 0;
    // The server closes the kept connection as the next request arrives, before any answer.
    let first = true;
    const real = partial();
    answer = (s, r, h) => {
      if (first) {
        first = false;
        s.destroy();
        return;
      }
      real(s, r, h);
    };
    const into = Buffer.alloc(100);
    await getRangeInto(range(7, 100), into);
    expect(into.equals(object.subarray(7, 107))).toBe(true);
    expect(connections).toBe(1);
  });

  it('gives up on a server that stops answering, by the timeout', async () => {
    answer = () => {};
    const r = { ...range(0, 100), timeoutMs: 600 };
    expect(await reason(getRangeInto(r, Buffer.alloc(100)))).toBe('no answer within 1 s');
  });

  it('names a refused connection by its code', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = { ...range(0, 100), url: `http://127.0.0.1:${port}/x` };
    expect(await reason(getRangeInto(r, Buffer.alloc(100)))).toBe('ECONNREFUSED');
  });
});

describe('a worker GET over https', () => {
  it('reads the range into the buffer through TLS whatever the pieces, on one kept connection', async () => {
    connections = 0;
    for (const piece of [13, 7001, 400 * 1024]) {
      answer = partial(piece);
      const into = Buffer.alloc(200 * 1024);
      await getRangeInto(range(999, into.length, '/bucket/pack', tlsBase), into, cert);
      expect(into.equals(object.subarray(999, 999 + into.length))).toBe(true);
    }
    expect(connections).toBe(1);
  });

  it('refuses a server whose certificate is not trusted, naming the TLS error only', async () => {
    answer = partial();
    expect(await reason(getRangeInto(range(0, 100, '/bucket/pack', tlsBase), Buffer.alloc(100)))).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});
