// Disaster recovery in the real console: install A (`coffer serve` on data folder A) backs a VM up
// into a vault folder; then a second install on a new, empty data folder B connects that vault
// from the "Connect existing vault" dialog, sees the VM as a Backup data only item with its
// recovery point, and restores the point to a folder with byte-identical disks. Also runs axe-core
// on the new dialogs in both themes and both languages.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, axeProblems, consolePage, launchChromium, makeVm, sha256, startConsole, stopConsole, visible, type ConsoleHost } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const T = 120_000;
const PASS = 'correct horse battery staple';

let tmp = '';
let browser: Browser;
const hosts: ConsoleHost[] = [];
let context: BrowserContext | undefined;
let page: Page;
let disks: { raw: string; qcow: string };

const { dialog, row } = consolePage(() => page);
const nav = () => page.getByRole('navigation', { name: /Main navigation|Hoofdnavigatie/ });
/** The texts that describe a form control (its Field's validation message and hint). */
const described = (l: Locator) =>
  l.evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' '),
  );

/** A console on its own data folder, in a fresh browser context (each install has its own token). */
async function openConsole(dataDir: string): Promise<void> {
  await context?.close();
  const host = await startConsole(dataDir);
  hosts.push(host);
  context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true });
  page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err));
  await page.goto(host.url);
  await page.getByRole('heading', { level: 1, name: 'Vaults' }).waitFor({ timeout: 20_000 });
}

async function openConnectDialog(): Promise<Locator> {
  await page.getByRole('button', { name: /^(Connect existing vault|Bestaande kluis verbinden)$/ }).first().click();
  await visible(dialog());
  return dialog();
}

describe('connect an existing vault from a second install', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    fs.mkdirSync(SHOTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-connect-'));
    disks = makeVm(path.join(tmp, 'hypervisor', 'shop'), 'web01', '0b3c9a52-1111-4222-8333-444455556701', 12);
    browser = await launchChromium();
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page?.screenshot({ path: path.join(SHOTS, `failed-connect-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await Promise.all(hosts.map((h) => stopConsole(h.child)));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('install A backs a VM up into a vault folder', { timeout: T }, async () => {
    await openConsole(path.join(tmp, 'data-a'));
    await nav().getByRole('link', { name: 'Sources' }).click();
    await page.getByRole('button', { name: 'Add source' }).first().click();
    await dialog().getByLabel('Folder path').fill(path.join(tmp, 'hypervisor'));
    await dialog().getByLabel('Region', { exact: false }).first().fill('lab');
    await dialog().getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);

    await nav().getByRole('link', { name: 'Vaults' }).click();
    await page.getByRole('button', { name: 'Create vault' }).first().click();
    const d = dialog();
    await d.getByLabel('Vault name').fill('vault-a');
    await d.getByLabel('Region').fill('lab');
    await d.getByLabel('Storage folder').fill(path.join(tmp, 'vault'));
    await d.getByLabel(/^Passphrase\s*\*?$/).fill(PASS);
    await d.getByLabel('Confirm passphrase').fill(PASS);
    await d.getByRole('button', { name: 'Create', exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 30_000 }).toBe(0);

    await nav().getByRole('link', { name: 'Registered Items' }).click();
    await page.getByRole('button', { name: 'Discover' }).click();
    await visible(page.getByText('Discovery finished: 1 found'), 30_000);
    await page.getByRole('button', { name: 'Register', exact: true }).first().click();
    await dialog().getByRole('checkbox', { name: 'Select shop/web01' }).check();
    await dialog().getByRole('button', { name: 'Register', exact: true }).click();
    await visible(row('shop', 'Registered'), 30_000);

    await nav().getByRole('link', { name: 'Protected Items' }).click();
    await page.getByRole('button', { name: 'Protect' }).first().click();
    await dialog().getByRole('checkbox', { name: 'Select shop/web01' }).check();
    await dialog().getByRole('button', { name: 'Next' }).click();
    await dialog().getByRole('button', { name: 'Protect', exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
    await page.getByRole('button', { name: 'Backup now: shop/web01' }).click();
    await dialog().getByRole('button', { name: 'Start backup' }).click();
    await visible(page.getByText('Backup of shop/web01 completed'), 60_000);
    expect(fs.existsSync(path.join(tmp, 'vault', 'config'))).toBe(true);
  });

  it('install B (empty data folder) shows Connect beside Create; the new dialogs pass axe in both themes and languages', { timeout: 240_000 }, async () => {
    await openConsole(path.join(tmp, 'data-b'));
    await visible(page.getByText('No vaults yet'));
    const problems: string[] = [];
    for (const lang of ['en', 'nl'] as const) {
      await page.evaluate((l) => localStorage.setItem('coffer.locale', l), lang);
      await page.reload();
      await visible(page.locator('h1#page-title'));
      for (const theme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: theme });
        for (const kind of ['folder', 's3'] as const) {
          const d = await openConnectDialog();
          if (kind === 's3') await d.getByRole('radio', { name: /^S3/ }).check();
          // Submitting empty shows every field's message: axe sees the error states too.
          await d.getByRole('button', { name: /^(Connect|Verbinden)$/ }).click();
          await page.waitForTimeout(300); // the dialog's entrance animation, for the screenshot
          await page.screenshot({ path: path.join(SHOTS, `connect-dialog-${kind}-${theme}-${lang}.png`) });
          problems.push(...(await axeProblems(page, `connect dialog (${kind}) ${theme} ${lang}`)));
          await page.keyboard.press('Escape');
          await expect.poll(() => dialog().count()).toBe(0);
        }
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.evaluate(() => localStorage.setItem('coffer.locale', 'en'));
    await page.reload();
    await visible(page.getByRole('heading', { level: 1, name: 'Vaults' }));
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('shows the engine refusal of object storage beside its field, with its remedy', { timeout: T }, async () => {
    const d = await openConnectDialog();
    await d.getByLabel('Local name').fill('team');
    await d.getByRole('radio', { name: 'Azure Blob' }).check();
    const url = d.getByLabel('Container URL');
    await url.fill('http://127.0.0.1:9/devstoreaccount1/nothing-here');
    await d.getByLabel(/^Passphrase\s*\*?$/).fill(PASS);
    await visible(d.getByText('Keys are never typed into the console', { exact: false }));
    await d.getByRole('button', { name: 'Connect', exact: true }).click();
    // Whatever the engine says (not wired yet, no credentials, unreachable), it is the URL field's message with a next step.
    await expect.poll(() => url.getAttribute('aria-invalid'), { timeout: 30_000 }).toBe('true');
    expect(await described(url)).toContain('Next step:');
    expect(await page.getByRole('row').count()).toBe(0);
    await d.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog().count()).toBe(0);
  });

  it('a wrong passphrase is the passphrase field\'s error; nothing is connected', { timeout: T }, async () => {
    const d = await openConnectDialog();
    await d.getByLabel('Local name').fill('restored');
    await d.getByLabel('Storage folder').fill(path.join(tmp, 'vault'));
    const pass = d.getByLabel(/^Passphrase\s*\*?$/);
    await pass.fill('not the passphrase');
    await d.getByRole('button', { name: 'Connect', exact: true }).click();
    await expect.poll(() => pass.getAttribute('aria-invalid'), { timeout: 30_000 }).toBe('true');
    expect(await described(pass)).toContain('The passphrase does not unlock');
    await pass.fill(PASS);
    await d.getByRole('button', { name: 'Connect', exact: true }).click();
    await visible(d.getByText('Vault restored is connected'), 30_000);
    // What arrived: the vault's region, its point, the VM as Backup data only, its recorded protection.
    const facts = await d.innerText();
    expect(facts).toContain('lab');
    expect(facts).toMatch(/Recovery points\s*1/);
    await visible(d.getByRole('region', { name: 'Backup data only' }).getByText('web01'));
    await visible(d.getByText('Protections waiting for your confirmation'));
    for (const theme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: theme });
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(SHOTS, `connect-done-${theme}.png`) });
      const problems = await axeProblems(page, `connect result ${theme}`);
      expect(problems, problems.join('\n')).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await d.getByRole('button', { name: 'Close' }).click();
    await visible(row('restored', 'lab', path.join(tmp, 'vault')));
  });

  it('a second connect of the same vault is VaultAlreadyConnected beside the folder', { timeout: T }, async () => {
    const d = await openConnectDialog();
    await d.getByLabel('Local name').fill('again');
    const folder = d.getByLabel('Storage folder');
    await folder.fill(path.join(tmp, 'vault'));
    await d.getByLabel(/^Passphrase\s*\*?$/).fill(PASS);
    await d.getByRole('button', { name: 'Connect', exact: true }).click();
    await expect.poll(() => folder.getAttribute('aria-invalid'), { timeout: 30_000 }).toBe('true');
    expect(await described(folder)).toContain('already connected');
    await d.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog().count()).toBe(0);
  });

  it('restores the Backup data only VM\'s point to a folder: the disks are byte-identical', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Protected Items' }).click();
    await visible(row('web01', 'shop', 'Backup data only'));
    await nav().getByRole('link', { name: 'Recovery points' }).click();
    await page.getByRole('combobox', { name: 'Virtual machine' }).click();
    await page.getByRole('option', { name: 'shop/web01' }).click();
    const points = page.getByRole('table', { name: 'Recovery points of shop/web01' });
    await visible(points);
    await points.getByRole('button', { name: /^Restore the point of/ }).first().click();
    const d = dialog();
    await d.getByRole('radio', { name: 'Disks to a folder' }).check();
    const target = path.join(tmp, 'restored');
    await d.getByLabel('Target folder').fill(target);
    await d.getByRole('button', { name: 'Start restore' }).click();
    await visible(d.getByText('Completed', { exact: true }), 60_000);
    await d.getByRole('button', { name: 'Close' }).click();
    expect(sha256(path.join(target, 'web01.img'))).toBe(sha256(disks.raw));
    expect(sha256(path.join(target, 'web01-data.qcow2'))).toBe(sha256(disks.qcow));
  });

  it('offers Associate with VM and Delete backup data for the item; Associate lists no VM while no source lists one', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Protected Items' }).click();
    await visible(page.getByText('Protections waiting for your confirmation'));
    await page.getByRole('button', { name: 'More actions for shop/web01' }).click();
    await visible(page.getByRole('menuitem', { name: 'Delete backup data' }));
    expect(await page.getByRole('menuitem', { name: 'Resume protection' }).count()).toBe(0);
    await page.getByRole('menuitem', { name: 'Associate with VM' }).click();
    await visible(dialog().getByText('No source of this install lists an unregistered VM in region lab', { exact: false }));
    // axe measures contrast: wait for the dialog's fade-in to end.
    await expect.poll(() => dialog().evaluate((el) => getComputedStyle(el).opacity)).toBe('1');
    const problems = await axeProblems(page, 'associate dialog');
    expect(problems, problems.join('\n')).toEqual([]);
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog().count()).toBe(0);
  });

  it('disconnects the vault: it leaves this console, its data stays for the next connect', { timeout: 180_000 }, async () => {
    await nav().getByRole('link', { name: 'Vaults' }).click();
    const problems: string[] = [];
    for (const lang of ['en', 'nl'] as const) {
      await page.evaluate((l) => localStorage.setItem('coffer.locale', l), lang);
      await page.reload();
      await visible(page.locator('h1#page-title'));
      for (const theme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: theme });
        await page.getByRole('button', { name: /^(Disconnect vault|Verbinding verbreken met kluis) restored/ }).click();
        await visible(dialog());
        await page.waitForTimeout(300); // the entrance animation, for the screenshot
        await page.screenshot({ path: path.join(SHOTS, `disconnect-dialog-${theme}-${lang}.png`) });
        problems.push(...(await axeProblems(page, `disconnect dialog ${theme} ${lang}`)));
        await dialog().getByRole('button', { name: /^(Cancel|Annuleren)$/ }).click();
        await expect.poll(() => dialog().count()).toBe(0);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.evaluate(() => localStorage.setItem('coffer.locale', 'en'));
    await page.reload();
    expect(problems, problems.join('\n')).toEqual([]);
    await page.getByRole('button', { name: 'Disconnect vault restored' }).click();
    await visible(dialog().getByText('The data in the storage stays as it is', { exact: false }));
    await dialog().getByRole('button', { name: 'Disconnect', exact: true }).click();
    await visible(page.getByText('No vaults yet'), 30_000);
    expect(fs.existsSync(path.join(tmp, 'vault', 'config'))).toBe(true);
    // ... and it connects again.
    const d = await openConnectDialog();
    await d.getByLabel('Local name').fill('restored');
    await d.getByLabel('Storage folder').fill(path.join(tmp, 'vault'));
    await d.getByLabel(/^Passphrase\s*\*?$/).fill(PASS);
    await d.getByRole('button', { name: 'Connect', exact: true }).click();
    await visible(d.getByText('Vault restored is connected'), 30_000);
  });
});
