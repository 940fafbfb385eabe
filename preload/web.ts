// The browser face of `window.coffer` (served by `coffer serve` as the classic script
// web-bridge.js, before app.js): every contract method becomes one JSON message over a WebSocket
// to the host, events arrive as pushes on the same socket. The renderer code is identical to
// Electron's. Must stay free of Node built-ins; it assigns window.coffer synchronously on load.
//
// Protocol: client -> server {id, method, args}; server -> client {id, result} (a Result) or
// {event, payload}. The socket is ws(s)://<host>/ws, authenticated by the HttpOnly cookie the host
// set when the page was opened with ?token=..., and by ?token= on the socket URL as well (kept in
// sessionStorage so reloads work after the token is stripped from the address bar).
import type { CofferApi, EventName, EventPayload, MethodName, Result } from './contract.js';
import { methodNameList as methodNames } from './method-names.js';
import { errorCatalog } from './errors.js';

const TOKEN_KEY = 'coffer_token';
/** Reconnect delays grow from the first to the last, then stay there. */
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

function takeToken(): string | null {
  let token: string | null = null;
  try {
    const url = new URL(window.location.href);
    const fromUrl = url.searchParams.get('token');
    if (fromUrl) {
      token = fromUrl;
      try {
        sessionStorage.setItem(TOKEN_KEY, fromUrl);
      } catch {
        // no storage: the HttpOnly cookie still authenticates reloads
      }
      url.searchParams.delete('token');
      // Keep the token out of the address bar, history and screenshots.
      window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    } else {
      token = sessionStorage.getItem(TOKEN_KEY);
    }
  } catch {
    // ignore: fall back to the cookie alone
  }
  return token;
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
  const socketUrl = `${scheme}://${window.location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;

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
      let msg: { id?: unknown; result?: unknown; event?: unknown; payload?: unknown };
      try {
        msg = JSON.parse(String(ev.data)) as typeof msg;
      } catch {
        return;
      }
      if (typeof msg.event === 'string') {
        for (const l of [...(eventListeners.get(msg.event) ?? [])]) {
          try {
            l(msg.payload);
          } catch (err) {
            console.error(err);
          }
        }
        return;
      }
      if (typeof msg.id === 'number') {
        const p = inFlight.get(msg.id);
        if (!p) return;
        inFlight.delete(msg.id);
        p.resolve(msg.result as Result<unknown>);
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
      let text: string;
      try {
        text = JSON.stringify({ id, method, args: args ?? {} });
      } catch (err) {
        resolve({
          ok: false,
          error: { code: 'InvalidArgument', ...errorCatalog.InvalidArgument, details: { reason: String(err) } },
        });
        return;
      }
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
