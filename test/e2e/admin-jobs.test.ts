// End to end, the Jobs page as an admin reads it (issue 12): a backup's result in the page's
// language (Dutch on the nl page, English on en), who started each job (the Trigger column and
// the details), an empty filtered list that names the filters hiding everything and offers to
// clear them, counts with plural rules ("1 job", "2 jobs", "1 taak"), and an Operation column that
// stays whole beside the details panel. axe in both themes and both languages.
//
// The job log is real: an engine on the data folder protects a VM, its scheduler (on a manual
// clock) runs the scheduled backup and Backup Now the manual one; then `coffer serve` shows it.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../preload/contract.js';
import { Engine } from '../../main/core/engine.js';
import { Scheduler } from '../../main/core/scheduler.js';
import { createRouter } from '../../main/rpc/router.js';
import { unwrap } from '../helpers/cli.js';
import { ROOT, axeProblems, launchChromium, makeVm, startConsole, stopConsole } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const TIMEOUT = 120_000;

let server: ChildProcess | undefined;
let browser: Browser | undefined;
let page: Page;
let dir = '';
let origin = '';
let manualId = 0;
let scheduledId = 0;

/** The job log of a real install: discover, register, protect, a scheduled and a manual backup. */
async function makeJobLog(data: string): Promise<void> {
  process.env.COFFER_TEST_KDF_N = '1024';
  makeVm(path.join(dir, 'hypervisor', 'shop'), 'web01', '6a1f0c2e-1111-4222-8333-444455556666', 4);
  const engine = Engine.open({ dataDir: data });
  try {
    engine.protection.timeZone = 'Europe/Amsterdam';
    const router = createRouter(engine, 'cli');
    const wait = async (jobs: Job | Job[]) => {
      for (const j of Array.isArray(jobs) ? jobs : [jobs]) await engine.jobs.wait(j.id);
    };
    unwrap(await router.invoke('createVault', { name: 'vault-ams', region: 'lab-amsterdam', path: path.join(dir, 'vault'), passphrase: 'correct horse battery staple' }));
    unwrap(await router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'hypervisor'), region: 'lab-amsterdam', name: 'lab' }));
    await wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-ams' })));
    await wait(unwrap(await router.invoke('registerVms', { vault: 'vault-ams', vms: ['web01'] })));
    unwrap(await router.invoke('createPolicy', { vault: 'vault-ams', name: 'Nightly', spec: { schedule: { kind: 'daily', times: ['22:00'] }, retention: { dailyDays: 7 } } }));
    await wait(unwrap(await router.invoke('protectVms', { vault: 'vault-ams', vms: ['web01'], policy: 'Nightly' })));
    // Protected on a Friday morning; the scheduler's clock reaches that evening's 22:00 slot.
    engine.db.prepare("UPDATE vms SET protected_at = '2026-03-27T08:00:00.000Z'").run();
    const [scheduled] = new Scheduler(engine.db, engine.protection).tick(new Date('2026-03-27T21:00:20Z'));
    if (!scheduled) throw new Error('the scheduler started no backup');
    await wait(scheduled);
    scheduledId = scheduled.id;
    const [manual] = unwrap(await router.invoke('backupNow', { vms: ['web01'] }));
    await wait(manual!);
    manualId = manual!.id;
  } finally {
    await engine.close();
  }
}

async function jobsPage(query: string, lang: 'en' | 'nl'): Promise<void> {
  await page.evaluate((l) => localStorage.setItem('coffer.locale', l), lang);
  await page.goto(`${origin}/#/jobs${query ? `?${query}` : ''}`);
  await page.reload();
  await expect.poll(() => page.getByRole('heading', { level: 1, name: lang === 'en' ? 'Jobs' : 'Taken' }).isVisible(), { timeout: 20_000 }).toBe(true);
}

const listLabel = { en: 'Jobs, newest first', nl: 'Taken, nieuwste eerst' } as const;
const rows = (lang: 'en' | 'nl') => page.getByRole('list', { name: listLabel[lang] }).getByRole('listitem');
const footerText = () => page.locator('[aria-live="polite"]').filter({ hasText: /\d+ (jobs?|taken|taak)\b/ }).first().innerText();

/** Each Operation cell shows its whole label, ends before the next column begins, and the column is as wide in every row. */
async function operationCellsWhole(): Promise<string[]> {
  return page.evaluate(() => {
    const cells = [...document.querySelectorAll<HTMLElement>('[data-col="operation"]')];
    const widths = new Set(cells.map((c) => Math.round(c.getBoundingClientRect().width)));
    const misaligned = widths.size > 1 ? [`Operation column widths differ between rows: ${[...widths].join(', ')}`] : [];
    return misaligned.concat(cells.flatMap((cell) => {
      const next = cell.nextElementSibling?.getBoundingClientRect();
      const box = cell.getBoundingClientRect();
      const problems: string[] = [];
      if (cell.scrollWidth > cell.clientWidth) problems.push(`"${cell.textContent}" truncated (${cell.scrollWidth} > ${cell.clientWidth})`);
      if (next && box.right > next.left) problems.push(`"${cell.textContent}" overlaps the next column`);
      return problems;
    }));
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'coffer-admin-jobs-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  const data = path.join(dir, 'data');
  await makeJobLog(data);
  const host = await startConsole(data, ['--no-scheduler']);
  server = host.child;
  origin = new URL(host.url).origin;
  browser = await launchChromium();
  // bypassCSP: axe is injected as a script tag, which the console's CSP would refuse.
  page = await browser.newPage({ viewport: { width: 1280, height: 860 }, locale: 'en-US', colorScheme: 'light', bypassCSP: true });
  page.on('pageerror', (err) => console.error('page error:', err));
  await page.goto(host.url);
  await page.getByRole('heading', { level: 1 }).first().waitFor({ timeout: 20_000 });
}, TIMEOUT);

afterAll(async () => {
  await browser?.close().catch(() => {});
  await stopConsole(server);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('Jobs page as an admin reads it', () => {
  it('says who started each backup and shows its result in English', { timeout: TIMEOUT }, async () => {
    await jobsPage('operation=Backup', 'en');
    await expect.poll(() => rows('en').count()).toBe(2);
    expect(await rows('en').allInnerTexts()).toEqual([expect.stringMatching(/Backup[\s\S]*Manual/), expect.stringMatching(/Backup[\s\S]*Scheduled/)]);
    await expect.poll(footerText).toBe('2 jobs');

    await rows('en').first().getByRole('button').click();
    const details = page.getByRole('region', { name: `Backup #${manualId}` });
    await expect.poll(() => details.isVisible()).toBe(true);
    await expect.poll(() => details.innerText()).toMatch(/Recovery point \S+: 2 disks, [\d.,]+ \S+ read, [\d.,]+ \S+ stored\./);
    expect(await details.innerText()).toContain('Manual · Started by an admin (console or CLI)');
    await page.goto(`${origin}/#/jobs?operation=Backup&id=${scheduledId}`);
    await expect.poll(() => page.getByRole('region', { name: `Backup #${scheduledId}` }).innerText()).toContain('Scheduled · Started by the schedule of its policy');
    // The Trigger filter: chosen in the filter bar, kept in the address, applied by the engine.
    await jobsPage('operation=Backup', 'en');
    await expect.poll(() => rows('en').count()).toBe(2);
    await page.getByRole('search').getByRole('combobox', { name: 'Trigger' }).click();
    await page.getByRole('menuitemcheckbox', { name: 'Scheduled', exact: true }).click();
    await page.keyboard.press('Escape');
    await expect.poll(() => rows('en').allInnerTexts()).toEqual([expect.stringMatching(/Backup[\s\S]*Scheduled/)]);
    expect(new URL(page.url()).hash).toContain('trigger=scheduled');
    await expect.poll(footerText).toBe('1 job');
  });

  it('shows the result, the trigger and the counts in Dutch', { timeout: TIMEOUT }, async () => {
    await jobsPage(`operation=Backup&id=${manualId}`, 'nl');
    const details = page.getByRole('region', { name: `Back-up #${manualId}` });
    await expect.poll(() => details.innerText()).toMatch(/Herstelpunt \S+: 2 schijven, [\d.,]+ \S+ gelezen, [\d.,]+ \S+ opgeslagen\./);
    expect(await details.innerText()).not.toContain('Recovery point');
    expect(await details.innerText()).toContain('Handmatig · Gestart door een beheerder');
    await page.getByRole('button', { name: 'Details sluiten' }).click();
    await expect.poll(() => rows('nl').allInnerTexts()).toEqual([expect.stringMatching(/Handmatig/), expect.stringMatching(/Gepland/)]);
    expect(await page.getByText('Aanleiding', { exact: true }).count()).toBeGreaterThan(0);
    await expect.poll(footerText).toBe('2 taken');
    await jobsPage('operation=Register', 'nl');
    await expect.poll(footerText).toBe('1 taak');
    await jobsPage('operation=Register', 'en');
    await expect.poll(footerText).toBe('1 job');
  });

  it('names the filters that hide every job and clears them', { timeout: TIMEOUT }, async () => {
    await jobsPage('status=Failed&operation=Restore', 'en');
    await expect.poll(() => page.getByRole('heading', { name: 'No jobs match these filters' }).isVisible()).toBe(true);
    expect(await page.getByText('Filtered by Status: Failed; Operation: Restore. Clear the filters to see every job.').isVisible()).toBe(true);
    await jobsPage('status=Failed&operation=Restore', 'nl');
    await expect.poll(() => page.getByText('Gefilterd op Status: Mislukt; Bewerking: Herstel. Wis de filters om alle taken te zien.').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Filters wissen' }).last().click();
    await expect.poll(() => rows('nl').count()).toBeGreaterThan(4);
    expect(new URL(page.url()).hash).toBe('#/jobs');
  });

  it('keeps every Operation label whole beside the details panel, in both languages', { timeout: TIMEOUT }, async () => {
    for (const lang of ['en', 'nl'] as const) {
      await jobsPage(`id=${manualId}`, lang);
      await expect.poll(() => page.getByRole('region', { name: new RegExp(`#${manualId}$`) }).isVisible()).toBe(true);
      await expect.poll(() => rows(lang).count()).toBeGreaterThan(4);
      // "Beveiliging configureren" is the longest label on this page.
      if (lang === 'nl') expect(await rows(lang).allInnerTexts()).toContainEqual(expect.stringContaining('Beveiliging configureren'));
      expect(await page.locator('[data-col="operation"]').count()).toBeGreaterThan(4);
      expect(await operationCellsWhole()).toEqual([]);
      await page.screenshot({ path: path.join(SHOTS, `admin-jobs-details-${lang}.png`) });
    }
  });

  it('passes axe on the list with details and on the filtered empty state, light and dark, en and nl', { timeout: TIMEOUT }, async () => {
    const problems: string[] = [];
    for (const lang of ['en', 'nl'] as const) {
      for (const [view, query] of [
        ['details', `operation=Backup&id=${manualId}`],
        ['empty', 'status=Failed&operation=Restore'],
      ] as const) {
        await jobsPage(query, lang);
        if (view === 'details') await expect.poll(() => page.getByRole('region', { name: new RegExp(`#${manualId}$`) }).isVisible()).toBe(true);
        else await expect.poll(() => page.getByRole('heading', { level: 2 }).first().isVisible()).toBe(true);
        for (const theme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme: theme });
          // The theme's colour transitions end before axe measures contrast.
          await page.evaluate(async () => {
            // Two frames: the new colour scheme is applied and its transitions have started.
            await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
            const finite = document.getAnimations().filter((a) => a.effect?.getComputedTiming().endTime !== Infinity);
            await Promise.allSettled(finite.map((a) => a.finished));
          });
          problems.push(...(await axeProblems(page, `jobs ${view} ${theme} ${lang}`)));
        }
        await page.emulateMedia({ colorScheme: 'light' });
      }
    }
    expect(problems).toEqual([]);
  });
});
