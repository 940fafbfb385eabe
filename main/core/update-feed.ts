// Reading a generic-provider update feed (latest.yml / latest-linux.yml / latest-mac.yml) from the
// deployment's LAN URL with electron-updater's own parser, and hashing a downloaded file as it
// does (sha512, base64). Used by the desktop app (main/electron/updater.ts) and the tests.
import { createHash } from 'node:crypto';
import { parseUpdateInfo } from 'electron-updater/out/providers/Provider.js';
import type { FeedReading } from './update-decision.js';

/** The channel file electron-updater's generic provider reads on this platform. */
export function channelFile(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? 'latest-mac.yml' : platform === 'linux' ? 'latest-linux.yml' : 'latest.yml';
}

export async function readFeed(baseUrl: string, file = channelFile(), signal?: AbortSignal): Promise<FeedReading> {
  const url = new URL(file, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  let text: string;
  try {
    const response = await fetch(url, { signal: signal ?? AbortSignal.timeout(30_000) });
    if (!response.ok) return { kind: 'unreachable', message: `${url.href}: HTTP ${response.status}` };
    text = await response.text();
  } catch (e) {
    return { kind: 'unreachable', message: `${url.href}: ${(e as Error).message}` };
  }
  try {
    const info = parseUpdateInfo(text, file, url);
    const files = (info.files ?? []).map((f) => ({ url: new URL(f.url, url).href, sha512: f.sha512, size: f.size }));
    return { kind: 'feed', version: info.version, files };
  } catch (e) {
    return { kind: 'invalid', message: (e as Error).message };
  }
}

/** Downloads a feed file and answers its sha512 in base64 (the form latest.yml uses). */
export async function downloadSha512(url: string, signal?: AbortSignal): Promise<string> {
  const response = await fetch(url, { signal: signal ?? AbortSignal.timeout(600_000) });
  if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
  const hash = createHash('sha512');
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
  }
  return hash.digest('base64');
}
