// What the desktop shell trusts: its own pages, served from its own files, under a strict CSP.
// No electron import, so these rules are tested in plain Node.
import path from 'node:path';

/**
 * The console is served from a privileged custom scheme rather than file://. Electron's security
 * checklist prefers it: file:// pages can read any file the user can, and a CSP header cannot be
 * attached to file:// responses, while our protocol handler sets one on every answer.
 */
export const APP_SCHEME = 'coffer';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY = `${APP_ORIGIN}/index.html`;

/**
 * Scripts and styles only from the app itself; no network at all (the engine is reached over
 * IPC). Fluent UI's Griffel inserts <style> rules at run time, hence 'unsafe-inline' for styles.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
};

export function mimeTypeOf(file: string): string {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The file under `rendererDir` that an app URL names, or undefined for anything else: another
 * scheme or host, an undecodable path, or a path that climbs out of the folder.
 */
export function rendererFileFor(requestUrl: string, rendererDir: string): string | undefined {
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return undefined;
  let relative: string;
  try {
    relative = decodeURIComponent(url.pathname);
  } catch {
    return undefined;
  }
  // Encoded dots and separators survive URL parsing; a request that needs them is not ours.
  if (relative.includes('\0') || relative.includes('\\')) return undefined;
  if (relative.split('/').some((segment) => segment === '..' || segment === '.')) return undefined;
  if (relative === '/' || relative === '') relative = '/index.html';
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, `.${relative}`);
  return file.startsWith(root + path.sep) ? file : undefined;
}

/**
 * Whether a frame at `frameUrl` may call the engine: the app's own entry page, or in development
 * the loopback dev server named by COFFER_RENDERER_URL. Query and hash do not matter (the
 * console routes with the hash); any other page, even one of ours, is refused.
 */
export function isTrustedPageUrl(frameUrl: string, devServerUrl?: string): boolean {
  let url: URL;
  try {
    url = new URL(frameUrl);
  } catch {
    return false;
  }
  if (url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST) {
    return url.pathname === '/index.html' || url.pathname === '/';
  }
  const dev = devServerUrl ? loopbackDevServer(devServerUrl) : undefined;
  return dev !== undefined && url.origin === dev.origin;
}

/** A dev server is accepted only on loopback over http(s): never a remote page with engine access. */
export function loopbackDevServer(devServerUrl: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(devServerUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) ? url : undefined;
}
