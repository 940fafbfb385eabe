// Issue 12, item 3 in the real console: two VMs named web01, each in its own folder (lab/web01 and
// shop/web01), are named lab/web01 and shop/web01 in the list, in the Backup now confirmation and
// in its toast; Discover says which vault holds a VM that is already registered. English and
// Dutch, axe-clean in both themes.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCoffer } from '../helpers/cli.js';
import { CLI, ROOT, axeProblems, consolePage, launchChromium, makeVm, startConsole, stopConsole, visible } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const T = 120_000;
const PASSPHRASE = 'correct horse battery staple';

let server: ChildProcess | undefined;
let browser: Browser;
let page: Page;
let tmp = '';

const { go, useLanguage: language, dialog, row } = consolePage(() => page);
const toastWith = (text: string) => page.locator('.fui-Toast').filter({ hasText: text }).first();
/** Waits until the finite animations and transitions (a dialog's entrance, a theme's colours) have ended or were cancelled. */
async function settled(): Promise<void> {
  await page.evaluate(() => Promise.all(document.getAnimations().filter((a) => a.effect?.getTiming().iterations !== Infinity).map((a) => a.finished.catch(() => undefined))));
}

describe('VM names that say which VM', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    fs.mkdirSync(SHOTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-names-'));
    const hv = path.join(tmp, 'hypervisor');
    // One folder per VM, as virt-manager users and VirtualBox/VMware lay them out.
    makeVm(path.join(hv, 'lab', 'web01'), 'web01', '0b3c9a52-1111-4222-8333-444455559901', 2);
    makeVm(path.join(hv, 'shop', 'web01'), 'web01', '0b3c9a52-1111-4222-8333-444455559902', 2);
    makeVm(path.join(hv, 'lab', 'db01'), 'db01', '0b3c9a52-1111-4222-8333-444455559903', 2);
    const data = path.join(tmp, 'data');
    const keyFile = path.join(tmp, 'vault-lab.key');
    fs.writeFileSync(keyFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    // The setup an admin may script: the CLI names the VMs as the console will.
    const coffer = (...args: string[]) => {
      const r = runCoffer(['--data-dir', data, ...args], { COFFER_PASSPHRASE: PASSPHRASE });
      expect(r.code, `coffer ${args.join(' ')}\n${r.out}\n${r.err}`).toBe(0);
      return r.out;
    };
    coffer('vault', 'create', 'vault-lab', '--region', 'lab', '--path', path.join(tmp, 'vault-lab'));
    coffer('vault', 'create', 'vault-other', '--region', 'lab', '--path', path.join(tmp, 'vault-other'));
    coffer('vault', 'remember', 'vault-lab', '--key-file', keyFile);
    coffer('source', 'add', 'folder', hv, '--region', 'lab', '--name', 'hv');
    expect(coffer('vm', 'discover', '--vault', 'vault-lab')).toMatch(/web01\s+lab\s+lab[\s\S]*web01\s+shop\s+lab/);
    expect(coffer('vm', 'register', '--vault', 'vault-lab', 'lab/web01', 'shop/web01')).toMatch(/Register vault-lab lab\/web01: Completed/);
    coffer('vm', 'register', '--vault', 'vault-other', 'lab/db01');
    coffer('protect', '--vault', 'vault-lab', '--policy', 'DefaultPolicy', 'lab/web01', 'shop/web01');

    const host = await startConsole(data);
    server = host.child;
    browser = await launchChromium();
    // bypassCSP: axe-core is injected as an inline script, which the console's CSP forbids.
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    await page.goto(host.url);
    await page.locator('h1#page-title').waitFor({ timeout: 20_000 });
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page.screenshot({ path: path.join(SHOTS, `failed-names-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('lists each web01 under the folder above its own folder', { timeout: T }, async () => {
    await go('#/registered-items?vault=vault-lab');
    await visible(row('web01', 'lab', 'Registered'));
    await visible(row('web01', 'shop', 'Registered'));
    // Not lab/web01/web01: the VM's own folder is not its cloud service.
    expect(await page.getByRole('table').first().innerText()).not.toContain('lab/web01');
  });

  it("Discover names the vault each excluded VM is registered to, in English and Dutch", { timeout: T }, async () => {
    await go('#/registered-items?vault=vault-lab');
    await page.getByRole('button', { name: 'Discover' }).click();
    const panel = page.getByText('Discovery found no virtual machines to register.').locator('xpath=ancestor::*[contains(@class, "fui-MessageBar")][1]');
    await visible(panel, 30_000);
    await expect.poll(async () => (await panel.innerText()).replace(/\s+/g, ' ')).toContain('Already registered to this vault (2): lab/web01, shop/web01');
    expect((await panel.innerText()).replace(/\s+/g, ' ')).toContain('Already registered to vault vault-other (1): db01');
    const problems: string[] = [];
    for (const theme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: theme });
      await settled();
      problems.push(...(await axeProblems(page, `registered-items ${theme} en`)));
    }

    await page.emulateMedia({ colorScheme: 'light' });
    await language('nl');
    await go('#/registered-items?vault=vault-lab');
    const nl = page.getByText('Detectie vond geen virtuele machines om te registreren.').locator('xpath=ancestor::*[contains(@class, "fui-MessageBar")][1]');
    await visible(nl);
    const text = (await nl.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('Al geregistreerd bij deze kluis (2): lab/web01, shop/web01');
    expect(text).toContain('Al geregistreerd bij kluis vault-other (1): db01');
    for (const theme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: theme });
      await settled();
      problems.push(...(await axeProblems(page, `registered-items ${theme} nl`)));
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await language('en');
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('the Backup now confirmation and its toast say lab/web01, in English and Dutch', { timeout: 180_000 }, async () => {
    const problems: string[] = [];
    for (const lang of ['en', 'nl'] as const) {
      await language(lang);
      await go('#/protected-items?vault=vault-lab');
      for (const theme of ['dark', 'light'] as const) {
        await page.emulateMedia({ colorScheme: theme });
        await page.getByRole('button', { name: lang === 'en' ? 'Backup now: lab/web01' : 'Nu back-uppen: lab/web01' }).click();
        const d = dialog();
        const intro = lang === 'en' ? 'A Backup job starts at once for: lab/web01.' : 'Er start direct een back-uptaak voor: lab/web01.';
        await visible(d.getByText(intro, { exact: true }));
        await settled();
        problems.push(...(await axeProblems(page, `backup-now dialog ${theme} ${lang}`)));
        if (theme === 'dark') {
          await page.keyboard.press('Escape');
          await expect.poll(() => dialog().count()).toBe(0);
        }
      }
      await dialog().getByRole('button', { name: lang === 'en' ? 'Start backup' : 'Back-up starten' }).click();
      await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
      // Whatever its wording (started, progress, finished), the job's toast names lab/web01, never web01 alone.
      await visible(toastWith(lang === 'en' ? 'Backup of lab/web01' : 'van lab/web01'), 30_000);
      expect(await page.locator('.fui-Toast').filter({ hasText: /(^|[^/])web01/ }).filter({ hasNotText: /(lab|shop)\/web01/ }).count()).toBe(0);
    }
    await language('en');
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
