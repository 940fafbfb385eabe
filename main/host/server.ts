import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { errorCatalog } from '../../preload/errors.js';
import type { Engine } from '../core/engine.js';
import type { Router } from '../rpc/router.js';

export interface ConsoleServerOptions {
  engine: Engine;
  router: Router;
  /** The built renderer (index.html, app.js, web-bridge.js). */
  staticDir: string;
  /** 0 or undefined: a free port. */
  port?: number;
  /** For tests; otherwise 32 random bytes, base64url. */
  token?: string;
}

export interface ConsoleServer {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  close(): Promise<void>;
}

const TOKEN_COOKIE = 'coffer_token';
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

/**
 * `coffer serve`: the console over HTTP and one WebSocket, on 127.0.0.1 only. Every request must
 * carry the access token (query on first load, then an HttpOnly cookie) and, when the browser
 * sends an Origin, it must be this server's own: other pages on the machine get 401/403 and
 * change nothing.
 */
export async function startConsoleServer(opts: ConsoleServerOptions): Promise<ConsoleServer> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  let origin = '';

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const denied = checkAccess(req, url, token, origin);
    if (denied) {
      res.writeHead(denied, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(denied === 401 ? 'Unauthorized: open the console with the URL `coffer serve` printed.\n' : 'Forbidden origin.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const headers: Record<string, string> = {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': CSP,
    };
    if (url.searchParams.get('token') === token) {
      headers['set-cookie'] = `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    }
    serveStatic(opts.staticDir, url.pathname, headers, res);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const denied = url.pathname !== '/ws' ? 404 : checkAccess(req, url, token, origin, true);
    if (denied) {
      socket.end(`HTTP/1.1 ${denied} ${http.STATUS_CODES[denied]}\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, opts));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/?token=${token}`,
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

/** 0 when allowed, else the status to refuse with. */
function checkAccess(req: http.IncomingMessage, url: URL, token: string, origin: string, isSocket = false): 0 | 401 | 403 {
  const sentOrigin = req.headers.origin;
  // Browsers send Origin on WebSocket upgrades and cross-site requests: only our own is welcome.
  if (sentOrigin !== undefined && sentOrigin !== origin) return 403;
  if (isSocket && sentOrigin === undefined) return 403;
  const fromQuery = url.searchParams.get('token');
  const fromCookie = parseCookies(req.headers.cookie)[TOKEN_COOKIE];
  return sameToken(fromQuery, token) || sameToken(fromCookie, token) ? 0 : 401;
}

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function serveStatic(root: string, pathname: string, headers: Record<string, string>, res: http.ServerResponse): void {
  const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
  const file = path.resolve(root, rel);
  if (!file.startsWith(path.resolve(root) + path.sep)) {
    res.writeHead(404, headers).end();
    return;
  }
  let body: Buffer;
  try {
    body = fs.readFileSync(file);
  } catch {
    res.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('Not found\n');
    return;
  }
  if (rel === 'index.html') {
    // The same renderer bundle as Electron; only here does window.coffer come from the WebSocket bridge.
    body = Buffer.from(
      body.toString('utf8').replace('<script', '<script src="./web-bridge.js"></script>\n    <script'),
    );
  }
  res.writeHead(200, { ...headers, 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' });
  res.end(body);
}

function serveSocket(ws: WebSocket, opts: ConsoleServerOptions): void {
  const unsubscribe = opts.engine.subscribe((event, payload) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event, payload }));
  });
  ws.on('close', unsubscribe);
  ws.on('message', (data) => {
    let msg: { id?: unknown; method?: unknown; args?: unknown };
    try {
      msg = JSON.parse(data.toString()) as typeof msg;
    } catch {
      return reply(ws, null, {
        ok: false,
        error: { code: 'InvalidArgument', message: 'The message is not JSON.', remedy: errorCatalog.InvalidArgument.remedy },
      });
    }
    const id = typeof msg?.id === 'number' ? msg.id : null;
    void opts.router.call(String(msg?.method), msg?.args).then((result) => reply(ws, id, result));
  });
}

function reply(ws: WebSocket, id: number | null, result: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id, result }));
}
