// The browser face of `window.coffer` (served by `coffer serve` as the classic script
// web-bridge.js, before app.js): every contract method becomes one JSON message over a WebSocket
// to the host, events arrive as pushes on the same socket. The renderer code is identical to
// Electron's. Must stay free of Node built-ins; it assigns window.coffer synchronously on load.
//
// Protocol: preload/wire.ts. The socket is ws://<host>/ws?token=...; the token comes from the URL
// fragment (#token=...) the host printed, which no request carries, and is kept in this tab's
// sessionStorage (per origin, so per port) so reloads work after it is stripped from the address
// bar. No cookie: cookies ignore ports, so any other server on 127.0.0.1 would receive one.
import type { CofferApi, EventName, EventPayload, MethodName, Result } from './contract.js';
import { methodNameList as methodNames } from './method-names.js';
import { errorCatalog } from './errors.js';
import { DOWNLOAD_PATH, encodeCall, parseHostMessage, SOCKET_PATH, TOKEN_FRAGMENT_KEY } from './wire.js';

const TOKEN_KEY = 'coffer_token';
/** Reconnect delays grow from the first to the last, then stay there. */
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

function takeToken(): string | null {
  try {
    const url = new URL(window.location.href);
    const fragment = new URLSearchParams(url.hash.replace(/^#/, ''));
    const fromUrl = fragment.get(TOKEN_FRAGMENT_KEY);
    if (fromUrl) {
      try {
        sessionStorage.setItem(TOKEN_KEY, fromUrl);
      } catch {
        // no storage: this page still works until it is reloaded
      }
      // Keep the token out of the address bar, history and screenshots; the console routes from '#/'.
      window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}#/`);
      return fromUrl;
    }
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function unreachable(reason: string): Result<never> {
  return {
    ok: false,
    error: { code: 'EngineUnreachable', ...errorCatalog.EngineUnreachable, details: { reason } },
  };
}

type Pending = { resolve: (r: Result<unknown>) => void };

function createBridge(): CofferApi {
  const token = takeToken();
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  const socketUrl = `${scheme}://${window.location.host}${SOCKET_PATH}${token ? `?token=${encodeURIComponent(token)}` : ''}`;

  let socket: WebSocket | undefined;
  /** undefined until the first attempt settles, so listeners do not see a false alarm at start-up. */
  let connected: boolean | undefined;
  let attempt = 0;
  let nextId = 1;
  const inFlight = new Map<number, Pending>();
  /** Calls made while the socket is still opening; sent on open, failed if the attempt fails. */
  let queued: { id: number; text: string }[] = [];
  const eventListeners = new Map<string, Set<(payload: unknown) => void>>();
  const connectionListeners = new Set<(connected: boolean) => void>();

  const setConnected = (value: boolean) => {
    if (connected === value) return;
    connected = value;
    for (const l of [...connectionListeners]) {
      try {
        l(value);
      } catch (err) {
        console.error(err);
      }
    }
  };

  const failAll = (reason: string) => {
    const pending = [...inFlight.values()];
    inFlight.clear();
    queued = [];
    for (const p of pending) p.resolve(unreachable(reason));
  };

  const connect = () => {
    const ws = new WebSocket(socketUrl);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      setConnected(true);
      const toSend = queued;
      queued = [];
      for (const q of toSend) ws.send(q.text);
    };
    ws.onmessage = (ev: MessageEvent) => {
      const msg = parseHostMessage(String(ev.data));
      if (msg?.kind === 'event') {
        for (const l of [...(eventListeners.get(msg.event) ?? [])]) {
          try {
            l(msg.payload);
          } catch (err) {
            console.error(err);
          }
        }
        return;
      }
      if (msg?.kind === 'reply' && msg.id !== null) {
        const p = inFlight.get(msg.id);
        if (!p) return;
        inFlight.delete(msg.id);
        p.resolve(msg.result);
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      if (socket !== ws) return;
      socket = undefined;
      failAll(`connection closed (${ev.code})`);
      setConnected(false);
      const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] ?? 8000;
      attempt++;
      window.setTimeout(connect, delay);
    };
    // onerror is always followed by onclose, which does the work.
  };

  const send = (method: MethodName, args: unknown): Promise<Result<unknown>> =>
    new Promise((resolve) => {
      const ws = socket;
      if (!ws || ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) {
        resolve(unreachable('not connected'));
        return;
      }
      const id = nextId++;
      const encoded = encodeCall(id, method, args);
      if (!encoded.ok) {
        resolve({ ok: false, error: encoded.error });
        return;
      }
      const text = encoded.text;
      inFlight.set(id, { resolve });
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
      else queued.push({ id, text });
    });

  const callers = {} as { [M in MethodName]: CofferApi[M] };
  for (const method of methodNames) {
    (callers as Record<string, unknown>)[method] = (args: unknown) => send(method, args);
  }

  connect();

  return {
    ...callers,
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
      const l = listener as (payload: unknown) => void;
      let set = eventListeners.get(event);
      if (!set) eventListeners.set(event, (set = new Set()));
      set.add(l);
      return () => {
        eventListeners.get(event)?.delete(l);
      };
    },
    onConnection(listener: (connected: boolean) => void): () => void {
      connectionListeners.add(listener);
      if (connected !== undefined) listener(connected);
      return () => {
        connectionListeners.delete(listener);
      };
    },
  } satisfies CofferApi;
}

window.coffer = createBridge();

/**
 * The browser console's Download of files from a recovery point: the host streams one file, or a
 * zip of several, and the browser saves it. The token travels as a bearer header, never in a URL.
 */
window.cofferDownload = async (params) => {
  const q = new URLSearchParams({ vm: params.vm, pointId: params.pointId });
  if (params.disk !== undefined) q.set('disk', params.disk);
  if (params.partition !== undefined) q.set('partition', String(params.partition));
  for (const p of params.paths) q.append('path', p);
  let res: Response;
  try {
    res = await fetch(`${DOWNLOAD_PATH}?${q.toString()}`, { headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ''}` } });
  } catch (e) {
    return unreachable(String(e));
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: keyof typeof errorCatalog; message?: string } };
    const code = body.error?.code && body.error.code in errorCatalog ? body.error.code : 'Internal';
    return { ok: false, error: { code, message: body.error?.message ?? res.statusText, remedy: errorCatalog[code].remedy } };
  }
  const name = /filename\*=UTF-8''([^;]+)/.exec(res.headers.get('content-disposition') ?? '')?.[1];
  const blob = await res.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name ? decodeURIComponent(name) : 'download';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  return { ok: true, value: { fileName: a.download, bytes: blob.size } };
};
