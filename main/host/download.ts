// The browser console's Download (file-level restore): GET DOWNLOAD_PATH?vm=&pointId=[&disk=]
// [&partition=]&path=...(&path=...) with the console's token as a bearer header (never in the
// URL, never a cookie). One file is sent as it is; several, or a folder, as a zip.
import type http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { toApiError } from '../core/errors.js';
import type { Engine } from '../core/engine.js';

const Query = z
  .object({
    vm: z.string().min(1).max(300),
    pointId: z.string().min(1).max(128),
    disk: z.string().min(1).max(255).optional(),
    partition: z.coerce.number().int().min(1).max(256).optional(),
    paths: z.array(z.string().min(1).max(4096)).min(1).max(1000),
  })
  .strict();

function bearer(req: http.IncomingMessage, token: string): boolean {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** RFC 6266 filename*: any name survives, quotes and non-ASCII included. */
const disposition = (name: string): string => `attachment; filename*=UTF-8''${encodeURIComponent(name)}`;

export function serveDownload(req: http.IncomingMessage, res: http.ServerResponse, url: URL, engine: Engine, token: string, headers: Record<string, string>): void {
  const json = (status: number, body: unknown): void => {
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  };
  if (!bearer(req, token)) return json(401, { error: { code: 'InvalidArgument', message: 'The console token is required.' } });
  const q = url.searchParams;
  const parsed = Query.safeParse({
    vm: q.get('vm') ?? undefined,
    pointId: q.get('pointId') ?? undefined,
    ...(q.get('disk') ? { disk: q.get('disk') } : {}),
    ...(q.get('partition') ? { partition: q.get('partition') } : {}),
    paths: q.getAll('path'),
  });
  if (!parsed.success) return json(400, { error: { code: 'InvalidArgument', message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') } });
  engine.protection.files
    .download(parsed.data, (meta) => {
      res.writeHead(200, {
        ...headers,
        'content-type': meta.contentType,
        'content-disposition': disposition(meta.fileName),
        ...(meta.size !== null ? { 'content-length': String(meta.size) } : {}),
      });
      return res;
    })
    .catch((e: unknown) => {
      if (!res.headersSent) return json(e && typeof e === 'object' && 'code' in e && e.code === 'FileNotFoundInPoint' ? 404 : 422, { error: toApiError(e) });
      // Mid-stream: the transfer is cut, so the browser sees a failed download, not a short file.
      res.destroy();
    });
}
