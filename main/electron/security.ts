// Electron's security checklist applied once for the whole app: pages come only from our own
// scheme, every response carries the CSP, navigation and new windows are refused, and the only
// permission a page may get is notifications.
import { readFile } from 'node:fs/promises';
import { app, protocol, shell, type Session } from 'electron';
import {
  APP_SCHEME,
  CONTENT_SECURITY_POLICY,
  mimeTypeOf,
  rendererFileFor,
} from './trust.js';

/** Must run before `app.whenReady()`: privileges can only be granted before the app starts. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } },
  ]);
}

/** Serves dist/renderer under coffer://app/ with the CSP on every answer. */
export function serveRenderer(rendererDir: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const file = rendererFileFor(request.url, rendererDir);
    if (!file) return new Response('Not found', { status: 404 });
    try {
      return new Response(await readFile(file), {
        headers: {
          'Content-Type': mimeTypeOf(file),
          'Content-Security-Policy': CONTENT_SECURITY_POLICY,
          'X-Content-Type-Options': 'nosniff',
        },
      });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}

export function secureSession(session: Session): void {
  // Pages reached over http (the dev server) get the same policy as our own scheme.
  session.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === 'content-security-policy') delete headers[name];
    }
    headers['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
    callback({ responseHeaders: headers });
  });
  session.setPermissionRequestHandler((_contents, permission, callback) => callback(permission === 'notifications'));
  session.setPermissionCheckHandler((_contents, permission) => permission === 'notifications');
}

/**
 * Every web contents, present and future: the page never navigates itself (the console routes
 * with the URL hash, which is not a navigation; loadURL from here is not affected), no new windows
 * (an https link opens in the user's browser instead), no <webview>.
 */
export function lockDownWebContents(): void {
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      if (url.startsWith('https://')) void shell.openExternal(url);
      return { action: 'deny' };
    });
  });
}
