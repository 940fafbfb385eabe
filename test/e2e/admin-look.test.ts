// Issue 12, "one look, one language", in the real console (Debian Chromium): one size unit on the
// dashboard and in job results (KiB/MiB, nl with a decimal comma); date and time fields in the UI
// language (nl 01-12-2026 and 22:00, en 12/01/2026 and 10:00 PM); the Jobs From/To range checked
// inline and "To" at the shown minute including that job; the theme choice in the header surviving
// a reload; the layout bugs measured by bounding boxes; axe clean in light and dark, en and nl.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../preload/contract.js';
import { formatDateField, formatTimeField } from '../../renderer/src/i18n/dateTime.js';
import { cofferIn } from '../helpers/cli.js';
import { CLI, ROOT, axeProblems, consolePage, launchChromium, makeVm, startConsole, stopConsole, visible } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const T = 120_000;
const PASS = 'correct horse battery staple';
// A long cloud service (the VM's folder) and a long policy name: the dashboard's columns must hold them.
const SERVICE = 'production-web-frontends-amsterdam';
const POLICY = 'NightlyWithLongerRetention';

let server: ChildProcess | undefined;
let url = '';
let browser: Browser;
let page: Page;
let tmp = '';
let hv = '';
let backupJob: Job;

const { dialog, go } = consolePage(() => page);
async function setLocale(locale: 'en' | 'nl'): Promise<void> {
  await page.evaluate((l) => localStorage.setItem('coffer.locale', l), locale);
  await page.reload();
  await page.getByRole('heading', { level: 1 }).first().waitFor({ timeout: 20_000 });
}
type Box = { top: number; bottom: number; left: number; right: number; height: number };
/** The box of an element's text, and how many lines it takes. */
const textBox = (l: Locator) =>
  l.evaluate((el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0);
    const b = range.getBoundingClientRect();
    return { box: { top: b.top, bottom: b.bottom, left: b.left, right: b.right, height: b.height } as Box, lines: new Set(rects.map((r) => Math.round(r.top))).size };
  });

/** axe once the theme's colour transitions have ended: asked again (at most 5 times) while it finds contrast problems. */
async function settledAxe(where: string): Promise<string[]> {
  let problems: string[] = [];
  for (let i = 0; i < 5; i++) {
    problems = await axeProblems(page, where);
    if (!problems.some((p) => p.includes('color-contrast'))) break;
    await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished)));
  }
  return problems;
}

/** Every size shown in these elements. */
async function sizesIn(l: Locator): Promise<string[]> {
  const texts = await l.allInnerTexts();
  return texts.flatMap((t) => [...t.matchAll(/\d+(?:[.,]\d+)?\s?(?:[KMGTP]i?B|[kKMGT]B|bytes?|B)\b/g)].map((m) => m[0]));
}

describe('one look, one language', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    fs.mkdirSync(SHOTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-look-'));
    hv = path.join(tmp, 'hypervisor-images', 'amsterdam-lab');
    makeVm(path.join(hv, SERVICE), 'web01', '0b3c9a52-1111-4222-8333-444455557701', 3);
    makeVm(path.join(hv, SERVICE), 'db01', '0b3c9a52-1111-4222-8333-444455557702', 3);
    const data = path.join(tmp, 'data');
    const coffer = cofferIn(data, { COFFER_PASSPHRASE: PASS, COFFER_TEST_KDF_N: '1024' });
    const ok = (...args: string[]) => {
      const r = coffer(...args);
      if (r.code !== 0) throw new Error(`coffer ${args.join(' ')}: ${r.out}\n${r.err}`);
      return r.out;
    };
    ok('vault', 'create', 'vault-look', '--region', 'lab', '--path', path.join(tmp, 'vault'));
    ok('source', 'add', 'folder', hv, '--region', 'lab', '--name', 'lab-host');
    ok('vm', 'discover', '--vault', 'vault-look');
    ok('vm', 'register', '--vault', 'vault-look', 'web01', 'db01');
    ok('policy', 'create', POLICY, '--vault', 'vault-look', '--daily', '22:00', '--keep-daily', '30');
    ok('protect', '--vault', 'vault-look', '--policy', POLICY, 'web01', 'db01');
    // db01 gets a point kept until a date (the "Retain until" badge); web01 stays pending.
    const later = new Date(Date.now() + 40 * 86_400_000).toISOString().slice(0, 10);
    ok('backup', 'now', 'db01', '--retain-until', later, '--wait');
    const jobs = JSON.parse(ok('job', 'list', '--operation', 'Backup', '--json')) as Job[];
    backupJob = jobs[0]!;
    const host = await startConsole(data);
    server = host.child;
    url = host.url;
    browser = await launchChromium();
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 }, colorScheme: 'light', bypassCSP: true });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    await page.goto(url);
    await page.getByRole('heading', { level: 1 }).first().waitFor({ timeout: 20_000 });
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page.screenshot({ path: path.join(SHOTS, `failed-look-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('shows sizes in one unit system on the dashboard and in a job result, with a decimal comma in Dutch', { timeout: T }, async () => {
    for (const [locale, decimal] of [['en', /^\d+(\.\d)? (B|KiB|MiB|GiB)$/], ['nl', /^\d+(,\d)? (B|KiB|MiB|GiB)$/]] as const) {
      await setLocale(locale);
      await go('#/dashboard', locale === 'en' ? 'Dashboard' : /Dashboard/);
      const storage = page.locator('#dash-storage').locator('..').getByRole('cell');
      await visible(storage.filter({ hasText: 'vault-look' }));
      const dashSizes = await sizesIn(storage);
      expect(dashSizes.length).toBeGreaterThanOrEqual(2);
      for (const s of dashSizes) expect(s, `dashboard (${locale})`).toMatch(decimal);
      await go(`#/jobs?id=${backupJob.id}`, /Jobs|Taken/);
      const details = page.locator('section[aria-labelledby="job-details-title"]');
      await visible(details.locator('dd'));
      // Every size in the details, the result sentence (a message code the console renders) included.
      const jobSizes = await sizesIn(details.locator('dd'));
      expect(jobSizes.length, await details.innerText()).toBeGreaterThanOrEqual(2);
      for (const s of jobSizes) expect(s, `job details (${locale})`).toMatch(decimal);
    }
    await setLocale('en');
  });

  it('shows date and time fields in the UI language: nl 01-12-2026 and 22:00, en 12/01/2026 and 10:00 PM', { timeout: T }, async () => {
    const day = new Date(2026, 11, 1);
    for (const [locale, time, date, typed] of [
      ['nl', '22:00', '01-12-2026', '1-12-2026'],
      ['en', '10:00 PM', '12/01/2026', '12/1/2026'],
    ] as const) {
      await setLocale(locale);
      // The policy form's schedule time.
      await go('#/policies', locale === 'en' ? 'Policies' : 'Beleid');
      await page.getByRole('button', { name: locale === 'en' ? /Create policy/ : /Beleid maken/ }).first().click();
      await visible(dialog());
      const timeField = dialog().getByRole('combobox', { name: locale === 'en' ? 'Backup time 1' : /tijd 1/i });
      await expect.poll(() => timeField.inputValue()).toBe(time);
      expect(await settledAxe(`policy dialog ${locale}`)).toEqual([]);
      await page.keyboard.press('Escape');
      // The Jobs filters From (date and time).
      await go('#/jobs', locale === 'en' ? 'Jobs' : 'Taken');
      const from = page.getByLabel(locale === 'en' ? 'From date' : 'Van: datum');
      await from.fill(typed);
      await from.press('Tab');
      await expect.poll(() => from.inputValue()).toBe(date);
      expect(await page.getByRole('combobox', { name: locale === 'en' ? 'From time' : 'Van: tijd' }).inputValue()).toBe(formatTimeField(new Date(2026, 11, 1, 0, 0), locale));
      expect(formatDateField(day, locale)).toBe(date);
      await page.getByRole('button', { name: locale === 'en' ? 'Clear filters' : /Filters wissen/ }).click();
      // Backup now's "retain until".
      await go('#/protected-items', locale === 'en' ? 'Protected Items' : 'Beveiligde items');
      await page.getByRole('row').filter({ hasText: 'db01' }).getByRole('button', { name: locale === 'en' ? /Backup now/ : /Nu back-uppen/ }).first().click();
      await visible(dialog());
      const retain = dialog().getByRole('combobox').first();
      expect(await retain.getAttribute('placeholder')).toBe(locale === 'en' ? 'mm/dd/yyyy' : 'dd-mm-jjjj');
      const next = new Date(new Date().getFullYear() + 1, 0, 15);
      await retain.fill(formatDateField(next, locale));
      await retain.press('Tab');
      await expect.poll(() => retain.inputValue()).toBe(formatDateField(next, locale));
      await expect.poll(() => dialog().getByText(locale === 'en' ? 'Choose a date after today.' : 'Kies een datum na vandaag.').count()).toBe(0);
      expect(await settledAxe(`backup now dialog ${locale}`)).toEqual([]);
      // A day that does not exist is refused in words, in the UI language.
      await retain.fill(locale === 'en' ? '02/31/2030' : '31-02-2030');
      await retain.press('Tab');
      await visible(dialog().getByText(locale === 'en' ? /Enter a date as mm\/dd\/yyyy/ : /Vul een datum in als dd-mm-jjjj/));
      await page.keyboard.press('Escape');
    }
  });

  it('refuses From after To inline, and To at the shown minute includes that job', { timeout: T }, async () => {
    await setLocale('en');
    await go('#/jobs?operation=Backup', 'Jobs');
    const created = new Date(backupJob.createdAt);
    const list = page.getByRole('list', { name: 'Jobs, newest first' });
    await visible(list.getByRole('button').filter({ hasText: 'db01' }));
    // From the day after To: refused inline, in words.
    const nextDay = new Date(created.getFullYear(), created.getMonth(), created.getDate() + 1);
    await page.getByLabel('From date').fill(formatDateField(nextDay, 'en'));
    await page.getByLabel('From date').press('Tab');
    await page.getByLabel('To date').fill(formatDateField(created, 'en'));
    await page.getByLabel('To date').press('Tab');
    await visible(page.getByRole('alert').filter({ hasText: 'From must not be after To.' }));
    expect(await axeProblems(page, 'jobs filter error (en)')).toEqual([]);
    // To at the minute the list shows the job: the job stays listed.
    await go('#/jobs?operation=Backup', 'Jobs');
    const shownMinute = formatTimeField(created, 'en');
    await page.getByLabel('To date').fill(formatDateField(created, 'en'));
    await page.getByLabel('To date').press('Tab');
    const toTime = page.getByRole('combobox', { name: 'To time' });
    await toTime.fill(shownMinute);
    await toTime.press('Tab');
    await expect.poll(() => page.evaluate(() => window.location.hash)).toContain(`to=`);
    expect(decodeURIComponent(await page.evaluate(() => window.location.hash))).toContain(`T${String(created.getHours()).padStart(2, '0')}:${String(created.getMinutes()).padStart(2, '0')}`);
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'From must not be after To.' }).count()).toBe(0);
    await visible(list.getByRole('button').filter({ hasText: 'db01' }));
    // One minute earlier excludes it.
    const before = new Date(created.getTime() - 60_000);
    await toTime.fill(formatTimeField(before, 'en'));
    await toTime.press('Tab');
    await visible(page.getByText('No jobs match these filters'));
  });

  it('switches the theme from the header and keeps it after a reload', { timeout: T }, async () => {
    await setLocale('en');
    await go('#/dashboard', 'Dashboard');
    const shellBackground = () => page.evaluate(() => getComputedStyle(document.querySelector('main')!.parentElement!.parentElement!).backgroundColor);
    const light = await shellBackground();
    await page.getByRole('button', { name: /^Theme:/ }).click();
    await page.getByRole('menuitemradio', { name: 'Dark' }).click();
    await expect.poll(shellBackground).not.toBe(light);
    const dark = await shellBackground();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await expect.poll(shellBackground).toBe(dark);
    await expect.poll(() => page.getByRole('button', { name: 'Theme: Dark' }).count()).toBe(1);
    // Following the system again: the page is light, as this browser is.
    await page.getByRole('button', { name: /^Theme:/ }).click();
    await page.getByRole('menuitemradio', { name: 'Follow the system' }).click();
    await expect.poll(shellBackground).toBe(light);
  });

  it('lays out long names, long states, paths, tier labels and "Not kept" without overlap', { timeout: T }, async () => {
    await setLocale('en');
    await page.setViewportSize({ width: 1024, height: 900 });
    // Dashboard, next scheduled backups: the VM name ends before the policy begins.
    await go('#/dashboard', 'Dashboard');
    const next = page.locator('#dash-next').locator('..');
    const rows = next.getByRole('row').filter({ hasText: POLICY });
    await visible(rows);
    for (const r of await rows.all()) {
      const [name, policy] = [r.getByRole('cell').nth(0).locator('[data-path-text]'), r.getByRole('cell').nth(1).locator('[data-path-text]')];
      const [n, p] = [await textBox(name), await textBox(policy)];
      expect(n.box.right, `name ${await name.innerText()} runs into the policy column`).toBeLessThanOrEqual(p.box.left);
    }
    // Protected items: "Protected (pending initial backup)" on one line inside its badge.
    await go('#/protected-items', 'Protected Items');
    const badge = page.locator('.fui-Badge').filter({ hasText: 'Protected (pending initial backup)' }).first();
    await visible(badge);
    expect((await textBox(badge)).lines).toBe(1);
    const badgeBox = (await badge.boundingBox())!;
    expect((await textBox(badge)).box.height).toBeLessThanOrEqual(badgeBox.height + 1);
    // Sources: the folder path wraps at separators only: every name stays on one line.
    await go('#/sources', 'Sources');
    const p = page.locator('[data-path-text]').filter({ hasText: 'hypervisor-images' }).first();
    await visible(p);
    const pieces = await p.evaluate((el) =>
      [...el.children].map((n) => {
        const range = document.createRange();
        range.selectNodeContents(n);
        return { text: n.textContent ?? '', lines: new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size };
      }),
    );
    expect(pieces.map((x) => x.text).join('')).toBe(hv);
    for (const piece of pieces) expect(piece.lines, `"${piece.text}" breaks mid-name`).toBe(1);
    // Recovery points: the "Retain until" tier label is as large as the text around it.
    await go('#/recovery-points', 'Recovery points');
    const tier = page.locator('.fui-Badge').filter({ hasText: 'Retain until' }).first();
    await visible(tier);
    expect(await tier.evaluate((el) => parseFloat(getComputedStyle(el).fontSize))).toBeGreaterThanOrEqual(12);
    // Policy form: "Not kept" beside its tier's checkbox label, not below it.
    await go('#/policies', 'Policies');
    await page.getByRole('button', { name: /Create policy/ }).first().click();
    await visible(dialog());
    const weekly = dialog().getByText('Weekly backups', { exact: true }).first();
    const notKept = dialog().getByText('Not kept').first();
    await visible(notKept);
    await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished)));
    const [label, off] = [await textBox(weekly), await textBox(notKept)];
    expect(off.box.top, '"Not kept" sits below its checkbox label').toBeLessThan(label.box.bottom);
    expect(Math.abs(off.box.top - label.box.top)).toBeLessThanOrEqual(4);
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('keeps axe clean on the changed pages in light and dark, en and nl', { timeout: T * 2 }, async () => {
    const problems: string[] = [];
    for (const locale of ['en', 'nl'] as const) {
      await setLocale(locale);
      for (const theme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: theme });
        for (const hash of ['#/dashboard', '#/jobs?from=2026-12-02T00:00&to=2026-12-01T23:59', '#/sources', '#/protected-items', '#/recovery-points']) {
          await page.evaluate((h) => (window.location.hash = h), hash);
          await page.getByRole('heading', { level: 1 }).first().waitFor();
          await page.waitForLoadState('networkidle');
          // The pointer off the tables: a hovered row is not what this checks.
          await page.mouse.move(0, 0);
          problems.push(...(await settledAxe(`${hash} ${locale} ${theme}`)));
        }
        await page.evaluate(() => (window.location.hash = '#/policies'));
        await page.getByRole('heading', { level: 1 }).first().waitFor();
        await page.getByRole('button', { name: locale === 'en' ? /Create policy/ : /Beleid maken/ }).first().click();
        await visible(dialog());
        await dialog().getByRole('combobox').first().click();
        problems.push(...(await settledAxe(`policy time list ${locale} ${theme}`)));
        await page.keyboard.press('Escape');
        await page.keyboard.press('Escape');
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(problems).toEqual([]);
  });
});
