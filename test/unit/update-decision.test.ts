// The update decision on recorded generic-provider feeds served over HTTP on 127.0.0.1: the feed
// is read with electron-updater's own parser, the file downloaded and hashed, and the pure
// decision says what the desktop app does (main/electron/updater.ts acts on it).
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideUpdate, type UpdateDecision } from '../../main/core/update-decision.js';
import { downloadSha512, readFeed } from '../../main/core/update-feed.js';
import { repoRoot } from '../helpers/tmp.js';

const FEEDS = path.join(repoRoot, 'test/fixtures/update-feeds');
let server: http.Server;
let base = '';
let requests: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = path.join(FEEDS, path.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!file.startsWith(FEEDS) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** What the app decides for a feed folder: read it, download when told, decide again. */
async function decide(feedUrl: string, busyJobs = 0): Promise<UpdateDecision[]> {
  requests = [];
  const feed = await readFeed(feedUrl, 'latest-linux.yml');
  const first = decideUpdate({ current: '0.1.0', feed, busyJobs });
  if (first.action !== 'download') return [first];
  const sha512 = await downloadSha512(first.file.url);
  return [first, decideUpdate({ current: '0.1.0', feed, busyJobs, downloaded: { version: first.version, sha512 } })];
}

describe('updates from a LAN feed', () => {
  it('newer: downloads the file the feed names, checks its sha512 and installs', async () => {
    const steps = await decide(`${base}/newer/`);
    expect(steps.map((s) => s.action)).toEqual(['download', 'install']);
    expect(steps[0]).toMatchObject({ version: '0.2.0', file: { url: `${base}/Coffer-0.2.0.AppImage`, size: 68 } });
    expect(requests).toEqual(['/newer/latest-linux.yml', '/Coffer-0.2.0.AppImage']);
  });

  it('newer while a backup or restore runs: waits, and installs once it has ended', async () => {
    expect((await decide(`${base}/newer/`, 1)).at(-1)).toEqual({ action: 'wait', reason: 'jobRunning', version: '0.2.0' });
    expect((await decide(`${base}/newer/`, 0)).at(-1)).toEqual({ action: 'install', version: '0.2.0' });
  });

  it('older and same: nothing is downloaded', async () => {
    expect(await decide(`${base}/older/`)).toEqual([{ action: 'none', reason: 'older', detail: 'the feed offers 0.0.9, this is 0.1.0' }]);
    expect(await decide(`${base}/same/`)).toEqual([{ action: 'none', reason: 'upToDate' }]);
    expect(requests).toEqual(['/same/latest-linux.yml']);
  });

  it('corrupt checksum: the download does not hash to the feed sha512, so it is rejected and never installed', async () => {
    expect((await decide(`${base}/corrupt/`)).map((s) => s.action)).toEqual(['download', 'reject']);
  });

  it('a garbled feed or one that is not there: no update, with the reason', async () => {
    const [garbled] = await decide(`${base}/garbled/`);
    expect(garbled).toMatchObject({ action: 'none', reason: 'invalidFeed' });
    const [missing] = await decide(`${base}/nowhere/`);
    expect(missing).toMatchObject({ action: 'none', reason: 'unreachable', detail: `${base}/nowhere/latest-linux.yml: HTTP 404` });
  });

  it('unreachable: a feed server that is down', async () => {
    const down = http.createServer();
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(down.address() as AddressInfo).port}/`;
    await new Promise<void>((resolve) => down.close(() => resolve()));
    const [d] = await decide(url);
    expect(d).toMatchObject({ action: 'none', reason: 'unreachable' });
  });

  it('a sha512 that is not one, or no file: the feed is invalid', () => {
    const feed = (sha512: string) => ({ kind: 'feed' as const, version: '0.2.0', files: [{ url: 'http://x/a', sha512 }] });
    expect(decideUpdate({ current: '0.1.0', feed: feed('abc'), busyJobs: 0 })).toMatchObject({ action: 'none', reason: 'invalidFeed' });
    expect(decideUpdate({ current: '0.1.0', feed: { kind: 'feed', version: '0.2.0', files: [] }, busyJobs: 0 })).toMatchObject({ action: 'none', reason: 'invalidFeed' });
    expect(decideUpdate({ current: '0.1.0', feed: { kind: 'feed', version: 'soon', files: [] }, busyJobs: 0 })).toMatchObject({ action: 'none', reason: 'invalidFeed' });
  });
});
