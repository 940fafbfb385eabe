// Notifications that survive a reload (issue 12, item 2), in Chromium against `coffer serve`:
// a backup's one toast comes back after a reload mid-job and turns into the result in place; a
// job that ends while no page is open is unread on the next open, with the count; marking read
// is kept on the host across reloads and pages; toasts keep off the Unregister buttons and the
// Jobs "To" filter; en and nl; axe on the notification centre, light and dark.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ArgsOf, Job, MethodName, Result, ResultOf } from '../../preload/contract.js';
import { selfIdentity } from '../../main/core/vault/locks.js';
import { CLI, ROOT, axeProblems, consolePage, launchChromium, makeVm, startConsole, stopConsole, visible } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const T = 120_000;

let server: ChildProcess | undefined;
let url = '';
let browser: Browser;
let context: BrowserContext;
let page: Page;
let tmp = '';
let rpcSocket: WebSocket | undefined;
const disks: Record<string, { raw: string; qcow: string }> = {};

const { dialog } = consolePage(() => page);
const nav = () => page.getByRole('navigation', { name: /Main navigation|Hoofdnavigatie/ });
/** Toasts on screen whose text matches. */
const toasts = (text: string | RegExp) => page.locator('.fui-Toast').filter({ hasText: text });
const bell = () => page.getByRole('button', { name: /^(Notifications|Meldingen)/ });
const centre = () => page.getByRole('dialog', { name: /^(Notifications|Meldingen)$/ });

/** The API over the console's own WebSocket, as a script would use it: no page involved. */
let nextId = 1;
const waiting = new Map<number, (r: Result<unknown>) => void>();
async function rpc<M extends MethodName>(method: M, args: ArgsOf<M>): Promise<ResultOf<M>> {
  if (!rpcSocket) {
    const u = new URL(url);
    const token = new URLSearchParams(u.hash.slice(1)).get('token')!;
    const ws = new WebSocket(`ws://${u.host}/ws?token=${token}`, { origin: `http://${u.host}` });
    ws.on('message', (d) => {
      const msg = JSON.parse(d.toString()) as { id?: number; result?: Result<unknown>; event?: string; payload?: unknown };
      if (typeof msg.id === 'number' && msg.result) waiting.get(msg.id)?.(msg.result);
      if (msg.event === 'jobUpdated') for (const l of [...jobListeners]) l(msg.payload as Job);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    rpcSocket = ws;
  }
  const id = nextId++;
  const result = await new Promise<Result<unknown>>((resolve) => {
    waiting.set(id, resolve);
    rpcSocket!.send(JSON.stringify({ id, method, args }));
  });
  waiting.delete(id);
  if (!result.ok) throw new Error(`${method}: ${result.error.code}: ${result.error.message}`);
  return result.value as ResultOf<M>;
}

const jobListeners = new Set<(job: Job) => void>();
/** The job once it has ended: from its jobUpdated event, or at once when it already had. */
async function ended(id: number, timeout = 60_000): Promise<Job> {
  let listener: ((job: Job) => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<Job>((resolve, reject) => {
    listener = (job) => job.id === id && job.endedAt !== null && resolve(job);
    jobListeners.add(listener);
    timer = setTimeout(() => reject(new Error(`job ${id} did not end within ${timeout} ms`)), timeout);
  });
  try {
    const now = await rpc('showJob', { id });
    return now.endedAt !== null ? now : await done;
  } finally {
    jobListeners.delete(listener!);
    clearTimeout(timer);
  }
}

function boxesOverlap(a: { x: number; y: number; width: number; height: number }, b: { x: number; y: number; width: number; height: number }): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** Every box of `controls` (at least one) is clear of every toast on screen (at least one). */
async function expectToastsClear(controls: Locator, what: string): Promise<void> {
  const toastBoxes = (await page.locator('.fui-Toast').all()).map((t) => t.boundingBox());
  const controlBoxes = (await controls.all()).map((c) => c.boundingBox());
  const tb = (await Promise.all(toastBoxes)).filter((b) => b !== null);
  const cb = (await Promise.all(controlBoxes)).filter((b) => b !== null);
  expect(tb.length, 'a toast is on screen').toBeGreaterThan(0);
  expect(cb.length, `${what} are on screen`).toBeGreaterThan(0);
  for (const t of tb) for (const c of cb) expect(boxesOverlap(t, c), `toast ${JSON.stringify(t)} covers ${what} ${JSON.stringify(c)}`).toBe(false);
}

/** Switches the colour scheme and waits until the page shows it: the dark or light background, no transition running. */
async function scheme(theme: 'light' | 'dark'): Promise<void> {
  await page.emulateMedia({ colorScheme: theme });
  const settled = () =>
    page.evaluate((dark) => {
      const bg = getComputedStyle(document.body.querySelector('.fui-FluentProvider') ?? document.body).getPropertyValue('--colorNeutralBackground1').trim().toLowerCase();
      const isDark = bg !== '' && bg !== '#ffffff';
      return isDark === dark && document.getAnimations().every((a) => a.playState !== 'running');
    }, theme === 'dark');
  await expect.poll(settled, { timeout: 10_000 }).toBe(true);
}

async function openPage(): Promise<Page> {
  const p = await context.newPage();
  p.on('pageerror', (err) => console.error('page error:', err));
  await p.goto(url);
  await p.getByRole('heading', { level: 1 }).first().waitFor({ timeout: 20_000 });
  return p;
}

describe('notifications that survive a reload', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    fs.mkdirSync(SHOTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-notify-'));
    const hv = path.join(tmp, 'hypervisor');
    // Folders that hold several VMs: the cloud service is that folder (shop, hold).
    disks.web01 = makeVm(path.join(hv, 'shop'), 'web01', '0b3c9a52-2222-4222-8333-444455556601', 8);
    disks.db01 = makeVm(path.join(hv, 'shop'), 'db01', '0b3c9a52-2222-4222-8333-444455556602', 2);
    disks.hold1 = makeVm(path.join(hv, 'hold'), 'hold1', '0b3c9a52-2222-4222-8333-444455556603', 1);
    disks.hold2 = makeVm(path.join(hv, 'hold'), 'hold2', '0b3c9a52-2222-4222-8333-444455556604', 1);
    const host = await startConsole(path.join(tmp, 'data'));
    server = host.child;
    url = host.url;
    // The set-up goes through the API; what is under test goes through the page.
    await rpc('addSource', { kind: 'folder', target: hv, region: 'lab', name: 'lab-host' });
    await rpc('createVault', { name: 'vault-lab', region: 'lab', path: path.join(tmp, 'vault'), passphrase: 'correct horse battery staple' });
    await ended((await rpc('discoverVms', { vault: 'vault-lab' })).id);
    const vms = ['web01', 'db01', 'hold1', 'hold2'];
    for (const j of await rpc('registerVms', { vault: 'vault-lab', vms })) await ended(j.id);
    for (const j of await rpc('protectVms', { vault: 'vault-lab', vms, policy: 'DefaultPolicy' })) await ended(j.id);
    browser = await launchChromium();
    // bypassCSP: axe-core is injected as an inline script, which the console's CSP forbids.
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true });
    page = await openPage();
    // What the set-up did is history: the admin has seen it.
    const seen = await rpc('listNotifications', {});
    if (seen.latest) await rpc('markNotificationsRead', { upTo: seen.latest });
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page.screenshot({ path: path.join(SHOTS, `failed-notify-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    rpcSocket?.close();
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps one toast per backup across a reload mid-job, off the controls, and turns it into the result in place', { timeout: T }, async () => {
    // Hold the backup mid-job, without timing: another install's live lock on the vault makes two
    // "delete backup data" jobs wait for it, and they take both heavy-job slots, so the backup queues.
    const lockFile = path.join(tmp, 'vault', 'locks', `shared-${randomBytes(16).toString('hex')}`);
    const now = new Date().toISOString();
    fs.mkdirSync(path.dirname(lockFile), { recursive: true });
    fs.writeFileSync(lockFile, JSON.stringify({ kind: 'shared', owner: path.basename(lockFile).slice(7), ...selfIdentity(), operation: 'backup of elsewhere', created: now, refreshed: now }));
    const holders = [
      await rpc('stopProtection', { vm: 'hold1', deleteData: true, confirmName: 'hold1' }),
      await rpc('stopProtection', { vm: 'hold2', deleteData: true, confirmName: 'hold2' }),
    ];
    const waitingFor = async (id: number): Promise<string> => {
      const s = (await rpc('showJob', { id })).summary;
      return s?.code === 'WaitingForLock' ? s.params.operation : '';
    };
    for (const h of holders) await expect.poll(() => waitingFor(h.id), { timeout: 30_000 }).toBe('backup of elsewhere');

    await nav().getByRole('link', { name: 'Protected Items' }).click();
    await page.getByRole('button', { name: 'Backup now: shop/web01' }).click();
    await dialog().getByRole('button', { name: 'Start backup' }).click();
    await visible(toasts('Backup of shop/web01 started'));
    await visible(toasts('Waiting for a free slot'));
    await page.getByRole('button', { name: 'Backup now: shop/db01' }).click();
    await dialog().getByRole('button', { name: 'Start backup' }).click();
    await visible(toasts('Backup of shop/db01 started'));
    expect(await toasts('shop/web01').count()).toBe(1);
    expect(await toasts('shop/db01').count()).toBe(1);
    const job = (await rpc('listJobs', { operation: ['Backup'], vm: 'shop/web01', limit: 1 })).jobs[0]!;
    const second = (await rpc('listJobs', { operation: ['Backup'], vm: 'shop/db01', limit: 1 })).jobs[0]!;
    expect([job.status, second.status]).toEqual(['Queued', 'Queued']);

    // A reload mid-job: the toast is back, still one, still following the job.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Protected Items' }).waitFor({ timeout: 20_000 });
    await visible(toasts('Backup of shop/web01 started'));
    await visible(toasts('Backup of shop/db01 started'));
    expect(await toasts('shop/web01').count()).toBe(1);
    expect(await toasts('shop/db01').count()).toBe(1);

    // Toasts never cover controls: the header's, the Unregister buttons, the Jobs "To" filter.
    await expectToastsClear(page.getByRole('banner').getByRole('button'), 'the header buttons');
    await nav().getByRole('link', { name: 'Registered Items' }).click();
    await visible(page.getByRole('button', { name: /^Unregister / }));
    await expectToastsClear(page.getByRole('button', { name: /^Unregister / }), 'the Unregister buttons');
    await nav().getByRole('link', { name: 'Jobs' }).click();
    const toFilter = page.getByRole('search').getByRole('group', { name: 'To', exact: true });
    await visible(toFilter);
    await expectToastsClear(toFilter, 'the Jobs "To" filter');
    await expectToastsClear(page.getByRole('search'), 'the Jobs filter bar');
    await page.screenshot({ path: path.join(SHOTS, 'notify-toast-clear-of-filters.png') });

    // Release the slots: the backup runs, and its one toast becomes the result.
    for (const h of holders) await rpc('cancelJob', { id: h.id });
    fs.rmSync(lockFile, { force: true });
    expect((await ended(job.id)).status).toBe('Completed');
    expect((await ended(second.id)).status).toBe('Completed');
    await visible(toasts('Backup of shop/web01 completed'), 60_000);
    await visible(toasts('Backup of shop/db01 completed'), 60_000);
    expect(await toasts('shop/web01').count()).toBe(1);
    expect(await toasts('shop/db01').count()).toBe(1);
    expect(await toasts(/started/).count()).toBe(0);
  });

  it('marks read on the host: closing the centre clears the count for this page, a reload and a second page', { timeout: T }, async () => {
    await visible(page.getByRole('button', { name: 'Notifications (2 new)' }));
    const other = await openPage();
    try {
      await visible(other.getByRole('button', { name: 'Notifications (2 new)' }));
      await bell().click();
      await visible(centre().getByText('Backup of shop/web01 completed'));
      await visible(centre().getByText('Backup of shop/db01 completed'));
      expect(await centre().getByText('New', { exact: true }).count()).toBe(2);
      await page.keyboard.press('Escape');
      await visible(page.getByRole('button', { name: 'Notifications', exact: true }));
      // The other page hears of it from the host.
      await visible(other.getByRole('button', { name: 'Notifications', exact: true }));
    } finally {
      await other.close();
    }
    await page.reload();
    await visible(page.getByRole('button', { name: 'Notifications', exact: true }));
    await bell().click();
    // Still listed after the reload (from the job log), no longer new.
    await visible(centre().getByText('Backup of shop/web01 completed'));
    expect(await centre().getByText('New', { exact: true }).count()).toBe(0);
    await page.keyboard.press('Escape');
  });

  it('lists what ended while no page was open as unread on the next open, with the count', { timeout: T }, async () => {
    await page.close();
    // No page is open: one backup succeeds, one fails (a disk went missing).
    fs.renameSync(disks.hold2!.qcow, `${disks.hold2!.qcow}.moved`);
    try {
      const [ok, bad] = await rpc('backupNow', { vms: ['db01', 'hold2'] });
      expect((await ended(ok!.id)).status).toBe('Completed');
      expect((await ended(bad!.id)).status).toBe('Failed');
      // Retention may prune db01's older point in a job of its own (started before the backup ended).
      for (const prune of (await rpc('listJobs', { operation: ['Prune'], vm: 'shop/db01' })).jobs) await ended(prune.id);
    } finally {
      fs.renameSync(`${disks.hold2!.qcow}.moved`, disks.hold2!.qcow);
    }
    const { unread } = await rpc('listNotifications', {});
    expect(unread).toBeGreaterThanOrEqual(2);
    page = await openPage();
    await visible(page.getByRole('button', { name: `Notifications (${unread} new)` }));
    await bell().click();
    const c = centre();
    await visible(c.getByText('Backup of shop/db01 completed').first());
    await visible(c.getByText('Backup of hold/hold2 failed'));
    expect(await c.getByText('New', { exact: true }).count()).toBe(unread);
    await page.screenshot({ path: path.join(SHOTS, 'notify-centre-unread.png') });
    for (const theme of ['light', 'dark'] as const) {
      await scheme(theme);
      expect(await axeProblems(page, `notification centre ${theme} en`)).toEqual([]);
    }
    await scheme('light');
    await page.keyboard.press('Escape');
    await visible(page.getByRole('button', { name: 'Notifications', exact: true }));
  });

  it('speaks Dutch, and the centre passes axe in nl, light and dark', { timeout: T }, async () => {
    // One more job ends while the page is away.
    await page.evaluate(() => localStorage.setItem('coffer.locale', 'nl'));
    const [job] = await rpc('backupNow', { vms: ['shop/web01'] });
    await ended(job!.id);
    // Its retention may prune the older point in a job of its own (started before the backup ended).
    for (const prune of (await rpc('listJobs', { operation: ['Prune'], vm: 'shop/web01' })).jobs) await ended(prune.id);
    const { unread } = await rpc('listNotifications', {});
    expect(unread).toBeGreaterThanOrEqual(1);
    await page.reload();
    await visible(page.getByRole('button', { name: `Meldingen (${unread} nieuw)` }));
    await bell().click();
    const c = centre();
    await visible(c.getByText('Back-up van shop/web01 voltooid').first());
    await visible(c.getByText('Back-up van hold/hold2 mislukt'));
    await visible(c.getByText('Nieuw', { exact: true }));
    await visible(c.getByRole('button', { name: 'Alles als gelezen markeren' }));
    for (const theme of ['light', 'dark'] as const) {
      await scheme(theme);
      expect(await axeProblems(page, `notification centre ${theme} nl`)).toEqual([]);
    }
    await page.screenshot({ path: path.join(SHOTS, 'notify-centre-nl-dark.png') });
    await scheme('light');
    await c.getByRole('button', { name: 'Alles als gelezen markeren' }).click();
    await visible(c.getByRole('button', { name: 'Alles wissen' }));
    expect(await c.getByText('Nieuw', { exact: true }).count()).toBe(0);
    await page.keyboard.press('Escape');
    await visible(page.getByRole('button', { name: 'Meldingen', exact: true }));
    // A Dutch toast of a job started here: one toast, from started to the result.
    await nav().getByRole('link', { name: 'Beveiligde items' }).click();
    await page.getByRole('button', { name: 'Nu back-uppen: shop/db01' }).click();
    await dialog().getByRole('button', { name: 'Back-up starten' }).click();
    await visible(toasts(/Back-up van shop\/db01 (gestart|voltooid)/));
    await visible(toasts('Back-up van shop/db01 voltooid'), 60_000);
    expect(await toasts('shop/db01').count()).toBe(1);
    await page.evaluate(() => localStorage.setItem('coffer.locale', 'en'));
  });

  it('clears all; a centre opened with nothing in it (or before its list arrives) is still read out, and fills as a job ends', { timeout: T }, async () => {
    await page.reload();
    await bell().click();
    await visible(centre().getByText('Backup of shop/db01 completed').first());
    await centre().getByRole('button', { name: 'Clear all' }).click();
    await visible(centre().getByText(/^No notifications yet/));
    await page.keyboard.press('Escape');
    // After a reload the host lists nothing: the centre opens empty. A surface that traps focus
    // with nothing to focus stays aria-hidden (found by no role query, read by no screen reader).
    await page.reload();
    await bell().click();
    await visible(centre().getByText(/^No notifications yet/));
    expect(await axeProblems(page, 'empty notification centre en')).toEqual([]);
    const [job] = await rpc('backupNow', { vms: ['shop/db01'] });
    await ended(job!.id);
    await visible(centre().getByText('Backup of shop/db01 completed'));
    await visible(centre().getByText('New', { exact: true }).first());
    await page.keyboard.press('Escape');
    await visible(page.getByRole('button', { name: 'Notifications', exact: true }));
  });
});
