// Unregistering a VM in the console is asked first: the dialog names the VM (as the list does)
// and says its recovery points stay in the vault; Escape leaves it registered; Unregister runs
// the job and deletes nothing in the vault. English and Dutch, keyboard only, axe clean.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCoffer } from '../helpers/cli.js';
import { CLI, axeProblems, launchChromium, makeVm, startConsole, stopConsole } from './console-host.js';

const T = 180_000;
const PASSPHRASE = 'correct horse battery staple';

let server: ChildProcess | undefined;
let browser: Browser;
let url = '';
let tmp = '';
let coffer: (...args: string[]) => string;

const visible = (l: Locator, timeout = 20_000) => expect.poll(() => l.first().isVisible(), { timeout }).toBe(true);
/** Every file of the vault folder, relative: what lies on disk. */
const vaultFiles = (): string[] => (fs.readdirSync(path.join(tmp, 'vault'), { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(tmp, 'vault', f)).isFile()).sort();

async function openPage(locale: 'en-US' | 'nl-NL'): Promise<Page> {
  const context = await browser.newContext({ locale, viewport: { width: 1440, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(url);
  await page.evaluate((l) => localStorage.setItem('coffer.locale', l), locale === 'en-US' ? 'en' : 'nl');
  await page.reload();
  await page.evaluate(() => (window.location.hash = '#/registered-items?vault=vault-lab'));
  await visible(page.locator('h1#page-title'));
  return page;
}

describe('unregistering a VM is confirmed', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-unregister-'));
    const hv = path.join(tmp, 'hypervisor');
    makeVm(path.join(hv, 'shop'), 'db01', '0b3c9a52-1111-4222-8333-444455550101', 2);
    makeVm(path.join(hv, 'shop'), 'app01', '0b3c9a52-1111-4222-8333-444455550102', 2);
    const data = path.join(tmp, 'data');
    coffer = (...args: string[]) => {
      const r = runCoffer(['--data-dir', data, ...args], { COFFER_PASSPHRASE: PASSPHRASE });
      expect(r.code, `coffer ${args.join(' ')}\n${r.out}\n${r.err}`).toBe(0);
      return r.out;
    };
    coffer('vault', 'create', 'vault-lab', '--region', 'lab', '--path', path.join(tmp, 'vault'));
    coffer('source', 'add', 'folder', hv, '--region', 'lab', '--name', 'hv');
    coffer('vm', 'discover', '--vault', 'vault-lab');
    coffer('vm', 'register', '--vault', 'vault-lab', 'shop/db01', 'shop/app01');
    // db01 has a recovery point, then its protection is stopped keeping the data.
    coffer('protect', '--vault', 'vault-lab', '--policy', 'DefaultPolicy', 'shop/db01');
    coffer('backup', 'now', 'shop/db01', '--wait');
    coffer('protection', 'stop', 'shop/db01', '--keep-data');
    const host = await startConsole(data);
    server = host.child;
    url = host.url;
    browser = await launchChromium();
  }, T);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('asks first, names the VM and keeps its recovery points (English, keyboard)', { timeout: T }, async () => {
    const page = await openPage('en-US');
    const button = page.getByRole('button', { name: 'Unregister shop/db01' });
    await visible(button);
    await button.focus();
    await page.keyboard.press('Enter');
    const d = page.getByRole('alertdialog', { name: 'Unregister db01?' });
    await visible(d);
    expect(await d.innerText()).toContain('db01 is no longer registered to vault vault-lab, and can be registered again (to this vault or another).');
    expect(await d.innerText()).toContain('Its recovery points stay in vault vault-lab: unregistering deletes none of them.');
    expect(await axeProblems(page, 'unregister dialog (en)')).toEqual([]);
    // Escape leaves everything as it was.
    await page.keyboard.press('Escape');
    await expect.poll(() => d.count()).toBe(0);
    expect(coffer('vm', 'list', '--vault', 'vault-lab')).toContain('db01');

    const before = vaultFiles();
    await button.focus();
    await page.keyboard.press('Enter');
    await visible(d);
    await d.getByRole('button', { name: 'Unregister' }).click();
    await expect.poll(() => d.count()).toBe(0);
    await expect.poll(() => page.getByRole('button', { name: 'Unregister shop/db01' }).count(), { timeout: 30_000 }).toBe(0);
    expect(coffer('vm', 'list', '--vault', 'vault-lab')).not.toContain('db01');
    // Nothing in the vault was deleted.
    const after = vaultFiles();
    expect(before.filter((f) => !after.includes(f))).toEqual([]);
    await page.context().close();
  });

  it('speaks Dutch and stays axe clean', { timeout: T }, async () => {
    const page = await openPage('nl-NL');
    await page.getByRole('button', { name: 'Registratie opheffen: shop/app01' }).click();
    const d = page.getByRole('alertdialog', { name: 'Registratie van app01 opheffen?' });
    await visible(d);
    expect(await d.innerText()).toContain('De herstelpunten blijven in kluis vault-lab: het opheffen van de registratie verwijdert er geen.');
    expect(await axeProblems(page, 'unregister dialog (nl)')).toEqual([]);
    await d.getByRole('button', { name: 'Annuleren' }).click();
    await expect.poll(() => d.count()).toBe(0);
    expect(coffer('vm', 'list', '--vault', 'vault-lab')).toContain('app01');
    await page.context().close();
  });
});
