import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Result } from '../../preload/errors.js';
import { DOWNLOAD_PATH, encodeEvent, encodeReply, HOST_PROOF_PATH, parseCall, SOCKET_PATH, TOKEN_FRAGMENT_KEY } from '../../preload/wire.js';
import { serveDownload } from './download.js';
import type { Engine } from '../core/engine.js';
import { toApiError } from '../core/errors.js';
import type { Router } from '../rpc/router.js';
import { hostProof } from './host-file.js';

export interface ConsoleServerOptions {
  engine: Engine;
  router: Router;
  /** The built renderer (index.html, app.js, web-bridge.js). */
  staticDir: string;
  /** 0 or undefined: a free port. */
  port?: number;
  /** For tests; otherwise 32 random bytes, base64url. */
  token?: string;
  /** Where a request that failed unexpectedly is reported (default: console.error). */
  log?: (message: string, error: unknown) => void;
}

export interface ConsoleServer {
  /** `http://127.0.0.1:PORT/#token=TOKEN`: the token is in the fragment, which no request carries. */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self' ws://127.0.0.1:*; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const SECURITY_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': CSP,
};

/**
 * `coffer serve`: the console over HTTP and one WebSocket, on 127.0.0.1 only. The static files
 * (the renderer bundle) are public and need no secret; only the WebSocket, where every API call
 * goes, needs the access token (on its URL), and its Origin must be this server's own. No cookie is
 * set: cookies ignore ports, so any other server on 127.0.0.1 would receive it.
 *
 * No request can stop the host: every handler answers malformed input with a 4xx or a typed error,
 * and an unexpected error in one request is logged and answered 500, never thrown out of it.
 */
export async function startConsoleServer(opts: ConsoleServerOptions): Promise<ConsoleServer> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const log = opts.log ?? ((message: string, error: unknown) => console.error(`coffer: ${message}:`, error));
  let origin = '';

  const server = http.createServer((req, res) => {
    try {
      handleHttp(req, res, opts.staticDir, token, origin, opts.engine);
    } catch (e) {
      log(`request ${truncate(req.url)} failed`, e);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end();
    }
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  wss.on('error', (e) => log('WebSocket server error', e));
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    try {
      const url = parseUrl(req.url);
      const denied = !url ? 400 : url.pathname !== SOCKET_PATH ? 404 : checkSocketAccess(req, url, token, origin);
      if (denied) {
        socket.end(`HTTP/1.1 ${denied} ${http.STATUS_CODES[denied]}\r\nConnection: close\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, opts, log));
    } catch (e) {
      log(`upgrade ${truncate(req.url)} failed`, e);
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/#${TOKEN_FRAGMENT_KEY}=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function handleHttp(req: http.IncomingMessage, res: http.ServerResponse, staticDir: string, token: string, origin: string, engine: Engine): void {
  const text = (status: number, body: string): void => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end(body);
  };
  const url = parseUrl(req.url);
  if (!url) return text(400, 'Bad request.\n');
  // Browsers send Origin on cross-site requests: only our own is welcome.
  if (req.headers.origin !== undefined && req.headers.origin !== origin) return text(403, 'Forbidden origin.\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (url.pathname === HOST_PROOF_PATH) {
    const nonce = url.searchParams.get('nonce') ?? '';
    if (!/^[A-Za-z0-9_-]{16,256}$/.test(nonce)) return text(400, 'A nonce of 16 to 256 base64url characters is required.\n');
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json' }).end(JSON.stringify({ proof: hostProof(token, nonce) }));
    return;
  }
  if (url.pathname === DOWNLOAD_PATH) return serveDownload(req, res, url, engine, token, SECURITY_HEADERS);
  serveStatic(staticDir, url.pathname, res, text);
}

/** The request target as a URL, or undefined when it is not one. */
function parseUrl(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://127.0.0.1');
  } catch {
    return undefined;
  }
}

/** 0 when the socket may open, else the status to refuse with. */
function checkSocketAccess(req: http.IncomingMessage, url: URL, token: string, origin: string): 0 | 401 | 403 {
  // Browsers always send Origin on WebSocket upgrades: only our own page is welcome.
  if (req.headers.origin !== origin) return 403;
  return sameToken(url.searchParams.get('token'), token) ? 0 : 401;
}

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function serveStatic(root: string, pathname: string, res: http.ServerResponse, text: (status: number, body: string) => void): void {
  let rel: string;
  try {
    rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
  } catch {
    return text(400, 'Bad request: the path is not valid percent-encoding.\n');
  }
  if (rel.includes('\0')) return text(400, 'Bad request.\n');
  const file = path.resolve(root, rel);
  if (!file.startsWith(path.resolve(root) + path.sep)) return text(404, 'Not found\n');
  let body: Buffer;
  try {
    body = fs.readFileSync(file);
  } catch {
    return text(404, 'Not found\n');
  }
  if (rel === 'index.html') {
    // The same renderer bundle as Electron; only here does window.coffer come from the WebSocket bridge.
    body = Buffer.from(body.toString('utf8').replace('<script', '<script src="./web-bridge.js"></script>\n    <script'));
  }
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' });
  res.end(body);
}

function serveSocket(ws: WebSocket, opts: ConsoleServerOptions, log: (message: string, error: unknown) => void): void {
  // A bad frame (too large, invalid UTF-8): ws closes this socket (1009, 1007), and only this one.
  ws.on('error', () => undefined);
  const unsubscribe = opts.engine.subscribe((event, payload) => {
    if (ws.readyState === ws.OPEN) ws.send(encodeEvent(event, payload));
  });
  ws.on('close', unsubscribe);
  ws.on('message', (data, isBinary) => {
    const parsed = isBinary ? parseCall('') : parseCall(data.toString());
    if (!parsed.ok) return reply(ws, parsed.id, { ok: false, error: parsed.error });
    const { id, method, args } = parsed.call;
    opts.router.call(method, args).then(
      (result) => reply(ws, id, result),
      (e: unknown) => {
        // The router never throws by contract; if it does, this call fails and the host goes on.
        log(`call ${truncate(method)} failed`, e);
        reply(ws, id, { ok: false, error: toApiError(e) });
      },
    );
  });
}

function reply(ws: WebSocket, id: number | null, result: Result<unknown>): void {
  if (ws.readyState === ws.OPEN) ws.send(encodeReply(id, result));
}

function truncate(s: string | undefined): string {
  return (s ?? '').slice(0, 200);
}
