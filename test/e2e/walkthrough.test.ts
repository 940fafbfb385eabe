// The walkthrough W1..W23 in the real console: `coffer serve` with a temporary data folder,
// real disk images made here, Debian Chromium driven by playwright-core. Also runs axe-core on
// every page and takes screenshots of every page in both themes and both languages.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, axeProblems, consolePage, launchChromium, makeVm, sha256, startConsole, stopConsole, visible } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const DOCS = path.join(ROOT, 'docs/screenshots');
// The README's screenshots are refreshed on request only, so a test run leaves tracked files alone.
const UPDATE_DOCS = process.env.COFFER_UPDATE_SCREENSHOTS === '1';
const T = 120_000;

let server: ChildProcess | undefined;
let url = '';
let browser: Browser;
let page: Page;
let tmp = '';
const disks: Record<string, { raw: string; qcow: string }> = {};

const { dialog, go, row } = consolePage(() => page);
const nav = () => page.getByRole('navigation', { name: /Main navigation|Hoofdnavigatie/ });
/** A screenshot without the toasts on top (for the README). */
async function cleanShot(file: string, docName?: string): Promise<void> {
  const style = await page.addStyleTag({ content: '.fui-Toaster, .fui-Toast { display: none !important; }' });
  await page.screenshot({ path: path.join(SHOTS, file) });
  await style.evaluate((el) => (el as Element).remove());
  if (docName && UPDATE_DOCS) fs.copyFileSync(path.join(SHOTS, file), path.join(DOCS, docName));
}
/** The toast with this text (Fluent renders each in a .fui-Toast). */
const toastWith = (text: string | RegExp) => page.locator('.fui-Toast').filter({ hasText: text }).first();

describe('the walkthrough in the browser console', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    fs.mkdirSync(SHOTS, { recursive: true });
    fs.mkdirSync(DOCS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-walk-'));
    const hv = path.join(tmp, 'hypervisor');
    disks.shop = makeVm(path.join(hv, 'shop'), 'web01', '0b3c9a52-1111-4222-8333-444455556601', 24);
    disks.web = makeVm(path.join(hv, 'web-tier'), 'web01', '0b3c9a52-1111-4222-8333-444455556602', 6);
    makeVm(path.join(hv, 'web-tier'), 'db01', '0b3c9a52-1111-4222-8333-444455556603', 2);
    const host = await startConsole(path.join(tmp, 'data'));
    server = host.child;
    url = host.url;
    browser = await launchChromium();
    // bypassCSP: axe-core is injected as an inline script, which the console's CSP forbids.
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    await page.goto(url);
    await page.getByRole('heading', { level: 1, name: 'Vaults' }).waitFor({ timeout: 20_000 });
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page.screenshot({ path: path.join(SHOTS, `failed-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('adds a folder source with its region', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Sources' }).click();
    await visible(page.getByRole('heading', { level: 1, name: 'Sources' }));
    await page.getByRole('button', { name: 'Add source' }).first().click();
    const d = dialog();
    await d.getByLabel('Folder path').fill('relative');
    await d.getByLabel('Folder path').blur();
    await visible(d.getByText('Give an absolute folder path'));
    await d.getByLabel('Folder path').fill(path.join(tmp, 'hypervisor'));
    await d.getByLabel('Region', { exact: false }).first().fill('lab');
    await d.getByLabel('Name (optional)').fill('lab-host');
    await d.getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
    await visible(row('lab-host', path.join(tmp, 'hypervisor')));
  });

  it('creates a vault in the same region', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Vaults' }).click();
    await page.getByRole('button', { name: 'Create vault' }).first().click();
    const d = dialog();
    await d.getByLabel('Vault name').fill('vault-lab');
    await d.getByLabel('Region').fill('lab');
    await d.getByLabel('Storage folder').fill(path.join(tmp, 'vault'));
    await d.getByLabel(/^Passphrase\s*\*?$/).fill('correct horse battery staple');
    await d.getByLabel('Confirm passphrase').fill('correct horse battery staple');
    await d.getByRole('button', { name: 'Create', exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 30_000 }).toBe(0);
    await visible(row('vault-lab', 'Unlocked'));
  });

  it('discovers VMs with a running and a finished notification (W1..W3)', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Registered Items' }).click();
    await visible(page.getByRole('heading', { level: 1, name: 'Registered Items' }));
    await visible(page.getByRole('combobox', { name: 'Type' }));
    expect(await page.getByRole('combobox', { name: 'Type' }).innerText()).toContain('Virtual machine');
    await page.getByRole('button', { name: 'Discover' }).click();
    // One toast per job, updated in place: a quick discovery may already read "finished".
    await visible(page.getByText(/Discovery running|Discovery finished: 3 found/));
    await visible(page.getByText('Discovery finished: 3 found'), 30_000);
    await visible(page.getByText('3 virtual machines can be registered.'));
  });

  it('registers the two VMs named web01, told apart by their cloud service (W4..W6)', { timeout: T }, async () => {
    await page.getByRole('button', { name: 'Register', exact: true }).first().click();
    const d = dialog();
    await visible(d.getByRole('table'));
    // Equal names show their cloud service.
    const shopRow = d.getByRole('row').filter({ hasText: 'web01' }).filter({ hasText: 'shop' });
    const webRow = d.getByRole('row').filter({ hasText: 'web01' }).filter({ hasText: 'web-tier' });
    await visible(shopRow);
    await visible(webRow);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(SHOTS, 'register-picker.png') });
    await d.getByRole('checkbox', { name: 'Select shop/web01' }).check();
    await d.getByRole('checkbox', { name: 'Select web-tier/web01' }).check();
    await d.getByRole('button', { name: 'Register', exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
    await visible(page.getByText(/Register of (shop|web-tier)\/web01 (started|completed)/));
    await visible(row('shop', 'Registered'), 30_000);
    await visible(row('web-tier', 'web01', 'Registered'), 30_000);
    await page.screenshot({ path: path.join(SHOTS, 'registered-items.png') });
  });

  it('protects both with a NEW policy from the wizard, with inline validation (W9..W14)', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Protected Items' }).click();
    await visible(page.getByRole('heading', { level: 1, name: 'Protected Items' }));
    await page.getByRole('button', { name: 'Protect' }).first().click();
    const d = dialog();
    await d.getByRole('checkbox', { name: 'Select shop/web01' }).check();
    await d.getByRole('checkbox', { name: 'Select web-tier/web01' }).check();
    await d.getByRole('button', { name: 'Next' }).click();
    // An existing policy shows its retention read-only.
    await visible(d.getByText('The retention of an existing policy cannot be changed here.'));
    await visible(d.getByText('Daily: 30 days'));
    await d.getByRole('radio', { name: 'Define a new policy' }).check();
    await d.getByRole('checkbox', { name: 'Daily backups' }).uncheck();
    await d.getByRole('button', { name: 'Protect', exact: true }).click();
    await visible(d.getByText('Use 3 to 150 letters'));
    await visible(d.getByText('A daily schedule needs the daily tier'));
    await d.getByLabel('Policy name').fill('Gold');
    await d.getByRole('checkbox', { name: 'Daily backups' }).check();
    await d.getByRole('checkbox', { name: 'Weekly backups' }).check();
    await d.getByRole('checkbox', { name: 'Monthly backups' }).check();
    await d.getByRole('checkbox', { name: 'Yearly backups' }).check();
    await page.waitForTimeout(300);
    await cleanShot('protect-wizard.png', 'protect-wizard.png');
    await d.getByRole('button', { name: 'Protect', exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
    await visible(row('shop', 'Protected (pending initial backup)', 'Gold'), 30_000);
    await visible(row('web-tier', 'Protected (pending initial backup)', 'Gold'), 30_000);
  });

  it('shows the protected VMs on the Dashboard', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Dashboard' }).click();
    const pending = page.getByRole('region', { name: 'Protected VMs (2)' });
    await visible(pending);
    expect(await pending.innerText()).toContain('Protected (pending initial backup)');
  });

  it('runs Backup Now and follows the job live on the Jobs page (W15..W19)', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Protected Items' }).click();
    await page.getByRole('button', { name: 'Backup now: shop/web01' }).click();
    await dialog().getByRole('button', { name: 'Start backup' }).click();
    // The job's one toast turns from started into the result in place.
    const toast = toastWith(/Backup of shop\/web01 (started|completed)/);
    await visible(toast);
    // "View job" in the notification opens the job on the Jobs page.
    await toast.getByRole('link', { name: 'View job' }).click();
    await visible(page.getByRole('heading', { level: 1, name: 'Jobs' }));
    expect(new URL(page.url()).hash).toMatch(/^#\/jobs\?id=\d+$/);
    const details = page.getByRole('region', { name: /Backup #\d+/ });
    await visible(details);
    await visible(details.getByText('Completed', { exact: true }), 60_000);
    expect(await details.innerText()).toMatch(/Recovery point/);
    await visible(page.getByText('Backup of shop/web01 completed'));
    await page.screenshot({ path: path.join(SHOTS, 'jobs-backup-completed.png') });
  });

  it('sees the Dashboard counts change', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Dashboard' }).click();
    const prot = page.getByRole('region', { name: 'Protected VMs (2)' });
    await visible(prot);
    await expect.poll(async () => (await prot.innerText()).replace(/\s+/g, ' '), { timeout: 20_000 }).toMatch(/1 Protected .*1 Protected \(pending initial backup\)|1 Protected \(pending initial backup\).*1 Protected/);
    const succeeded = page.getByRole('link', { name: /Succeeded/ });
    await expect.poll(async () => Number((await succeeded.innerText()).split(/\s/)[0])).toBeGreaterThanOrEqual(4);
    expect(await succeeded.getAttribute('href')).toMatch(/^#\/jobs\?status=Completed%2CCompletedWithWarnings&from=/);
    await page.waitForTimeout(300);
    await cleanShot('dashboard.png', 'dashboard.png');
  });

  it('filters the Jobs page by Operation = Backup (W13, W19)', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Jobs' }).click();
    await visible(page.getByRole('list', { name: 'Jobs, newest first' }));
    await page.getByRole('combobox', { name: 'Operation' }).click();
    await page.getByRole('menuitemcheckbox', { name: 'Backup', exact: true }).click();
    await page.keyboard.press('Escape');
    await expect.poll(() => new URL(page.url()).hash).toContain('operation=Backup');
    const items = page.getByRole('list', { name: 'Jobs, newest first' }).getByRole('listitem');
    await expect.poll(() => items.count()).toBe(1);
    expect(await items.first().innerText()).toContain('Backup');
    // A deep link pre-filters too.
    await go('#/jobs?operation=ConfigureProtection', 'Jobs');
    await expect.poll(() => items.count()).toBe(2);
    await go('#/jobs', 'Jobs');
    await expect.poll(() => items.count()).toBeGreaterThanOrEqual(5);
  });

  it('restores a point to a folder; the disks are byte-identical (W23)', { timeout: T }, async () => {
    const rawSum = sha256(disks.shop!.raw);
    const qcowSum = sha256(disks.shop!.qcow);
    await nav().getByRole('link', { name: 'Recovery points' }).click();
    await visible(page.getByRole('heading', { level: 1, name: 'Recovery points' }));
    await page.getByRole('combobox', { name: 'Virtual machine' }).click();
    await page.getByRole('option', { name: 'shop/web01' }).click();
    const points = page.getByRole('table', { name: 'Recovery points of shop/web01' });
    await visible(points);
    await visible(points.getByText('Retain until'));
    await visible(points.getByText('Offline (VM off)'));
    await page.screenshot({ path: path.join(SHOTS, 'recovery-points.png') });
    await points.getByRole('button', { name: /^Restore the point of/ }).first().click();
    const d = dialog();
    await d.getByRole('radio', { name: 'Disks to a folder' }).check();
    const target = path.join(tmp, 'restored');
    await d.getByLabel('Target folder').fill(target);
    await d.getByRole('button', { name: 'Start restore' }).click();
    await visible(d.getByText('Completed', { exact: true }), 60_000);
    await page.screenshot({ path: path.join(SHOTS, 'restore-completed.png') });
    await d.getByRole('button', { name: 'Close' }).click();
    expect(sha256(path.join(target, 'web01.img'))).toBe(rawSum);
    expect(sha256(path.join(target, 'web01-data.qcow2'))).toBe(qcowSum);
  });

  it('shows a failed backup with its code and remedy (W21)', { timeout: T }, async () => {
    fs.renameSync(disks.web!.qcow, `${disks.web!.qcow}.moved`);
    try {
      await nav().getByRole('link', { name: 'Protected Items' }).click();
      await page.getByRole('button', { name: 'Backup now: web-tier/web01' }).click();
      await dialog().getByRole('button', { name: 'Start backup' }).click();
      await visible(page.getByText('Backup of web-tier/web01 failed'), 60_000);
      await toastWith('Backup of web-tier/web01 failed').getByRole('link', { name: 'View job' }).click();
      const details = page.getByRole('region', { name: /Backup #\d+/ });
      await visible(details);
      await visible(details.getByText('DiskUnreadable'));
      await visible(details.getByText('Check that the file exists', { exact: false }));
      await page.waitForTimeout(300);
      await cleanShot('jobs.png', 'jobs.png');
      // The notification centre keeps it.
      await page.getByRole('button', { name: /Notifications/ }).click();
      await visible(page.getByRole('dialog', { name: 'Notifications' }).getByText('Backup of web-tier/web01 failed'));
      await page.screenshot({ path: path.join(SHOTS, 'notification-centre.png') });
      await page.keyboard.press('Escape');
      await go('#/jobs?status=Failed', 'Jobs');
      await expect.poll(() => page.getByRole('list', { name: 'Jobs, newest first' }).getByRole('listitem').count()).toBe(1);
    } finally {
      fs.renameSync(`${disks.web!.qcow}.moved`, disks.web!.qcow);
    }
  });

  it('passes axe-core on every page and takes screenshots in both themes and languages', { timeout: 300_000 }, async () => {
    const pages: [string, string][] = [
      ['dashboard', '#/dashboard'],
      ['vaults', '#/vaults'],
      ['sources', '#/sources'],
      ['registered-items', '#/registered-items'],
      ['protected-items', '#/protected-items'],
      ['recovery-points', '#/recovery-points'],
      ['policies', '#/policies'],
      ['jobs', '#/jobs?operation=Backup'],
    ];
    const problems: string[] = [];
    for (const lang of ['en', 'nl'] as const) {
      await page.evaluate((l) => localStorage.setItem('coffer.locale', l), lang);
      await page.reload();
      for (const theme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: theme });
        for (const [name, hash] of pages) {
          await page.evaluate((h) => (window.location.hash = h), hash);
          await visible(page.locator('h1#page-title'));
          await page.waitForLoadState('networkidle').catch(() => {});
          await page.waitForTimeout(500);
          await cleanShot(`page-${name}-${theme}-${lang}.png`, name === 'vaults' && theme === 'light' && lang === 'en' ? 'vaults.png' : undefined);
          problems.push(...(await axeProblems(page, `${name} ${theme} ${lang}`)));
        }
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
