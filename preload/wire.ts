// The wire protocol between a console (browser bridge, CLI client) and a host (`coffer serve`, the
// desktop app's console server), in one place. Browser-safe: no Node built-ins.
//
//   client -> host   {id, method, args}        one API call; id is the client's number for it
//   host -> client   {id, result}              the call's Result (id null when the message had none)
//                    {event, payload}          an engine event pushed to every client
//
// The socket is ws://127.0.0.1:PORT/ws?token=TOKEN. Nothing here throws on bad input: a message
// that does not parse becomes a typed error (host side) or is ignored (client side).
import type { ApiError, Result } from './errors.js';
import { errorCatalog } from './errors.js';

export const SOCKET_PATH = '/ws';
/** GET /host-proof?nonce=N answers {proof}: HMAC-SHA256(token, HOST_PROOF_LABEL + N), base64url. */
export const HOST_PROOF_PATH = '/host-proof';
/** The browser console's file download (file-level restore), token as a bearer header: main/host/download.ts. */
export const DOWNLOAD_PATH = '/files/download';
export const HOST_PROOF_LABEL = 'coffer-host-proof:';
/** The URL fragment key the console URL carries its token in (fragments never reach a server). */
export const TOKEN_FRAGMENT_KEY = 'token';

export interface CallMessage {
  id: number;
  method: string;
  args: unknown;
}

export type HostMessage = { kind: 'reply'; id: number | null; result: Result<unknown> } | { kind: 'event'; event: string; payload: unknown };

/** A call as text, or an InvalidArgument error when args cannot be sent (e.g. a cycle). */
export function encodeCall(id: number, method: string, args: unknown): { ok: true; text: string } | { ok: false; error: ApiError } {
  try {
    return { ok: true, text: JSON.stringify({ id, method, args: args ?? {} }) };
  } catch (err) {
    return { ok: false, error: { code: 'InvalidArgument', ...errorCatalog.InvalidArgument, details: { reason: String(err) } } };
  }
}

/** Host side: one received message as a call, or the error to answer it with. */
export function parseCall(text: string): { ok: true; call: CallMessage } | { ok: false; id: number | null; error: ApiError } {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { ok: false, id: null, error: { code: 'InvalidArgument', message: 'The message is not JSON.', remedy: errorCatalog.InvalidArgument.remedy } };
  }
  const obj = isRecord(msg) ? msg : undefined;
  const id = obj && typeof obj.id === 'number' && Number.isSafeInteger(obj.id) ? obj.id : null;
  if (!obj || id === null || typeof obj.method !== 'string') {
    return {
      ok: false,
      id,
      error: { code: 'InvalidArgument', message: 'A call is {id: number, method: string, args: object}.', remedy: errorCatalog.InvalidArgument.remedy },
    };
  }
  return { ok: true, call: { id, method: obj.method, args: obj.args } };
}

export function encodeReply(id: number | null, result: Result<unknown>): string {
  return JSON.stringify({ id, result });
}

export function encodeEvent(event: string, payload: unknown): string {
  return JSON.stringify({ event, payload });
}

/** Client side: one message from the host, or undefined when it is not one (never throws). */
export function parseHostMessage(text: string): HostMessage | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(msg)) return undefined;
  if (typeof msg.event === 'string') return { kind: 'event', event: msg.event, payload: msg.payload };
  if ((typeof msg.id === 'number' || msg.id === null) && isResult(msg.result)) return { kind: 'reply', id: msg.id, result: msg.result };
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isResult(v: unknown): v is Result<unknown> {
  if (!isRecord(v)) return false;
  if (v.ok === true) return 'value' in v;
  return v.ok === false && isRecord(v.error) && typeof v.error.code === 'string' && typeof v.error.message === 'string' && typeof v.error.remedy === 'string';
}
