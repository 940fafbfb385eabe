// Upgrading a vault from the console (issue 13 §5, W25): a version 1 vault (as an older Coffer
// left it, with two recovery points) is connected; its row offers Upgrade, which asks first
// (what it does, that every point stays restorable, that older installs can no longer open it)
// and starts an UpgradeVault job. Once the job is done the row no longer offers it, the vault's
// config is version 2 and every point restores byte-identical. axe-clean in both themes and languages.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../main/core/vault/local-store.js';
import { Vault } from '../../main/core/vault/vault.js';
import { CLI, ROOT, axeProblems, consolePage, launchChromium, sha256, startConsole, stopConsole, visible, type ConsoleHost } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const T = 180_000;
const PASS = 'correct horse battery staple';

let tmp = '';
let vaultDir = '';
let browser: Browser;
let host: ConsoleHost | undefined;
let context: BrowserContext | undefined;
let page: Page;
const points = new Map<string, string>();

const { dialog } = consolePage(() => page);
/** The console's confirmations are alert dialogs. */
const confirm = () => page.getByRole('alertdialog');
const upgradeButton = () => page.getByRole('button', { name: /^(Upgrade vault|Kluis) old (from format|bijwerken van formaat) 1$/ });

describe('upgrade a version 1 vault from the console', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    fs.mkdirSync(SHOTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-e2e-upgrade-'));
    vaultDir = path.join(tmp, 'vault');
    const disk = path.join(tmp, 'web01.img');
    const fd = fs.openSync(disk, 'w');
    for (let i = 0; i < 6; i++) if (i % 3 !== 2) fs.writeSync(fd, Buffer.alloc(1 << 20, 17 + i), 0, 1 << 20, i << 20);
    fs.ftruncateSync(fd, 6 << 20);
    fs.closeSync(fd);
    const v = await Vault.create(new LocalFolderStore(vaultDir), { name: 'old', region: 'lab', passphrase: PASS, kdf: { N: 1024, r: 8, p: 1 }, formatVersion: 1 });
    try {
      for (let n = 0; n < 2; n++) {
        if (n === 1) fs.writeFileSync(disk, Buffer.alloc(4096, 0xee), { flag: 'r+' });
        const p = await v.backup({ vmName: 'web01', disks: [{ name: 'web01.img', path: disk }] });
        points.set(p.id, sha256(disk));
      }
    } finally {
      await v.close();
    }
    browser = await launchChromium();
    host = await startConsole(path.join(tmp, 'data'));
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    await page.goto(host.url);
    await page.getByRole('heading', { level: 1, name: 'Vaults' }).waitFor({ timeout: 20_000 });
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page?.screenshot({ path: path.join(SHOTS, `failed-upgrade-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stopConsole(host?.child);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the connected version 1 vault offers Upgrade; the dialog says what happens and passes axe in both themes and languages', { timeout: T }, async () => {
    await page.getByRole('button', { name: /^Connect existing vault$/ }).first().click();
    const d = dialog();
    await visible(d);
    await d.getByLabel('Local name').fill('old');
    await d.getByLabel('Storage folder').fill(vaultDir);
    await d.getByLabel(/^Passphrase\s*\*?$/).fill(PASS);
    await d.getByRole('button', { name: 'Connect', exact: true }).click();
    await visible(d.getByText('Vault old is connected'), 30_000);
    await d.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => dialog().count()).toBe(0);
    await visible(upgradeButton());

    const problems: string[] = [];
    for (const lang of ['en', 'nl'] as const) {
      await page.evaluate((l) => localStorage.setItem('coffer.locale', l), lang);
      await page.reload();
      await visible(page.locator('h1#page-title'));
      for (const theme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: theme });
        problems.push(...(await axeProblems(page, `vaults page with Upgrade ${theme} ${lang}`)));
        await upgradeButton().click();
        await visible(confirm());
        const text = await confirm().innerText();
        expect(text).toContain(lang === 'en' ? 'Upgrade vault old?' : 'Kluis old bijwerken?');
        expect(text).toContain(lang === 'en' ? 'Every recovery point stays restorable' : 'Elk herstelpunt blijft intussen herstelbaar');
        expect(text).toContain(lang === 'en' ? 'installs with an older Coffer can no longer open this vault' : 'installaties met een oudere Coffer deze kluis niet meer openen');
        await page.screenshot({ path: path.join(SHOTS, `upgrade-dialog-${theme}-${lang}.png`) });
        problems.push(...(await axeProblems(page, `upgrade dialog ${theme} ${lang}`)));
        await confirm().getByRole('button', { name: /^(Cancel|Annuleren)$/ }).click();
        await expect.poll(() => confirm().count()).toBe(0);
        // The closed dialog hands the page back (Fluent lifts aria-hidden from #root) before axe looks again.
        await expect.poll(() => page.locator('#root').getAttribute('aria-hidden')).toBeNull();
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.evaluate(() => localStorage.setItem('coffer.locale', 'en'));
    await page.reload();
    await visible(upgradeButton());
    expect(problems, problems.join('\n')).toEqual([]);
    // Cancel left the vault as it was.
    expect(JSON.parse(fs.readFileSync(path.join(vaultDir, 'config'), 'utf8')).version).toBe(1);
  });

  it('Upgrade vault runs the job: the row stops offering it, the config is version 2, every point restores byte-identical', { timeout: T }, async () => {
    await upgradeButton().click();
    await visible(confirm());
    await confirm().getByRole('button', { name: 'Upgrade vault', exact: true }).click();
    await expect.poll(() => confirm().count(), { timeout: 30_000 }).toBe(0);
    await expect.poll(() => upgradeButton().count(), { timeout: 60_000 }).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(vaultDir, 'config'), 'utf8')).version).toBe(2);

    // The job log names it and what it did.
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Jobs' }).click();
    const jobItem = page.getByRole('list', { name: 'Jobs, newest first' }).getByRole('listitem').filter({ hasText: 'Upgrade vault' });
    await expect.poll(() => jobItem.allInnerTexts(), { timeout: 30_000 }).toEqual([expect.stringMatching(/Upgrade vault[\s\S]*Completed/)]);
    await jobItem.first().getByRole('button').first().click();
    const details = page.getByRole('region', { name: /^Upgrade vault #\d+$/ });
    await visible(details);
    await expect.poll(() => details.innerText()).toContain('Vault old upgraded from format 1 to 2: 2 recovery points of 2 rewritten.');
    const found = await axeProblems(page, 'jobs page after upgrade');
    expect(found, found.join('\n')).toEqual([]);

    const v = await Vault.open(new LocalFolderStore(vaultDir), PASS);
    try {
      expect(v.config.version).toBe(2);
      for (const [id, sha] of points) {
        const m = await v.readManifest(id);
        expect(m.version).toBe(2);
        const target = path.join(tmp, `restore-${id}`);
        await v.restore(id, target);
        expect(sha256(path.join(target, 'web01.img'))).toBe(sha);
      }
      expect((await v.verify({ full: true })).ok).toBe(true);
    } finally {
      await v.close();
    }
  });
});
