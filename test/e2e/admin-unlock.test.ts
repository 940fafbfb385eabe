// Issue 12, items 1 and 6 (lock, vault picker), in the browser console of `coffer serve` (a host
// without an OS keychain): unlocking with "remember" asked for still unlocks and the dialog says
// why nothing is remembered; the key file is set up from the console (a readable file refused with
// its remedy, then a private one tested); the Vaults list says how each vault unlocks at start, in
// English and Dutch; after a restart of the host the vault opens from its key file without anyone;
// locking asks first and names the scheduled backups that will fail; the vault picker shows the
// vault last created or picked, on every page and after a reload. Axe on the Vaults page and these
// dialogs, light and dark, en and nl.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, axeProblems, consolePage, launchChromium, makeVm, startConsole, stopConsole, visible, type ConsoleHost } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const T = 120_000;
const PASS = 'correct horse battery staple';

let host: ConsoleHost | undefined;
let browser: Browser;
let page: Page;
let tmp = '';
let keyFile = '';

const { dialog } = consolePage(() => page);
const alert = () => page.getByRole('alertdialog');
const nav = () => page.getByRole('navigation', { name: /Main navigation|Hoofdnavigatie/ });
/** The Vaults table row of this vault. */
const vaultRow = (name: string) => page.getByRole('row').filter({ has: page.getByRole('gridcell', { name, exact: true }) });
/**
 * The axe problems once the page has settled: a theme switch or a closing dialog animates for a
 * moment (colours in between, the app still aria-hidden), so ask again until clean, within a bound.
 */
async function settledAxe(where: string): Promise<string[]> {
  let problems: string[] = [];
  await expect
    .poll(async () => (problems = await axeProblems(page, where)).length, { timeout: 10_000 })
    .toBe(0)
    .catch(() => undefined);
  return problems;
}
const picker = () => page.getByRole('combobox', { name: /^(Vault|Kluis)$/ });

/** One engine call from the page, as the console makes it (window.coffer over the WebSocket). */
async function api<T>(method: string, args: unknown): Promise<T> {
  const r = await page.evaluate(
    async ([m, a]) => (window as unknown as { coffer: Record<string, (x: unknown) => Promise<unknown>> }).coffer[m as string]!(a),
    [method, args] as const,
  );
  const result = r as { ok: true; value: T } | { ok: false; error: { code: string; message: string } };
  if (!result.ok) throw new Error(`${method}: ${result.error.code}: ${result.error.message}`);
  return result.value;
}

/** Waits (bounded) until the job has finished, and returns it. */
async function finished(id: number): Promise<{ status: string; error?: { code: string } }> {
  let job: { status: string; error?: { code: string } } = { status: 'Queued' };
  await expect
    .poll(async () => {
      job = await api<{ status: string; error?: { code: string } }>('showJob', { id });
      return ['Completed', 'CompletedWithWarnings', 'Failed', 'Cancelled'].includes(job.status);
    }, { timeout: 60_000 })
    .toBe(true);
  return job;
}

async function openConsole(): Promise<void> {
  host = await startConsole(path.join(tmp, 'data'));
  await page.goto(host.url);
  await page.getByRole('heading', { level: 1, name: /^(Vaults|Kluizen)$/ }).waitFor({ timeout: 20_000 });
}

async function setLanguage(lang: 'en' | 'nl'): Promise<void> {
  await page.evaluate((l) => localStorage.setItem('coffer.locale', l), lang);
  await page.reload();
  await visible(page.getByRole('heading', { level: 1, name: lang === 'en' ? 'Vaults' : 'Kluizen' }));
}

async function createVault(name: string): Promise<void> {
  await page.getByRole('button', { name: 'Create vault' }).first().click();
  const d = dialog();
  await d.getByLabel('Vault name').fill(name);
  await d.getByLabel('Region').fill('lab');
  await d.getByLabel('Storage folder').fill(path.join(tmp, 'vaults', name));
  await d.getByLabel(/^Passphrase\s*\*?$/).fill(PASS);
  await d.getByLabel('Confirm passphrase').fill(PASS);
  await d.getByRole('button', { name: 'Create', exact: true }).click();
  await expect.poll(() => dialog().count(), { timeout: 30_000 }).toBe(0);
  await visible(vaultRow(name));
}

describe('unattended backups and the vault choice, from the browser console', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    fs.mkdirSync(SHOTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-unlock-'));
    makeVm(path.join(tmp, 'hypervisor', 'rack1'), 'app01', '0b3c9a52-1111-4222-8333-444455556801', 2);
    keyFile = path.join(tmp, 'secrets', 'vault-zulu.key');
    fs.mkdirSync(path.dirname(keyFile), { mode: 0o700 });
    fs.writeFileSync(keyFile, `${PASS}\n`);
    fs.chmodSync(keyFile, 0o644);
    browser = await launchChromium();
    // bypassCSP: axe-core is injected as an inline script, which the console's CSP forbids.
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    await openConsole();
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page.screenshot({ path: path.join(SHOTS, `failed-unlock-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(host?.child);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the picker shows the vault just created, then the one last picked, on every page and after a reload', { timeout: T }, async () => {
    await createVault('vault-alpha');
    await createVault('vault-zulu');
    // Just created wins over the alphabetically first.
    for (const [link, heading] of [['Protected Items', 'Protected Items'], ['Policies', 'Policies'], ['Registered Items', 'Registered Items']] as const) {
      await nav().getByRole('link', { name: link }).click();
      await visible(page.getByRole('heading', { level: 1, name: heading }));
      await expect.poll(() => picker().innerText()).toContain('vault-zulu (lab)');
    }
    // Picked on one page: every other page shows it, also after a reload.
    await picker().click();
    await page.getByRole('option', { name: 'vault-alpha (lab)' }).click();
    await expect.poll(() => picker().innerText()).toContain('vault-alpha (lab)');
    await nav().getByRole('link', { name: 'Policies' }).click();
    await visible(page.getByRole('heading', { level: 1, name: 'Policies' }));
    await expect.poll(() => picker().innerText()).toContain('vault-alpha (lab)');
    await page.reload();
    await visible(page.getByRole('heading', { level: 1, name: 'Policies' }));
    await expect.poll(() => picker().innerText()).toContain('vault-alpha (lab)');
    await nav().getByRole('link', { name: 'Protected Items' }).click();
    await expect.poll(() => picker().innerText()).toContain('vault-alpha (lab)');

    // A VM with scheduled backups into vault-zulu, for what follows.
    await api('addSource', { kind: 'folder', target: path.join(tmp, 'hypervisor'), region: 'lab' });
    await finished((await api<{ id: number }>('discoverVms', { vault: 'vault-zulu' })).id);
    for (const j of await api<{ id: number }[]>('registerVms', { vault: 'vault-zulu', vms: ['app01'] })) await finished(j.id);
    for (const j of await api<{ id: number }[]>('protectVms', { vault: 'vault-zulu', vms: ['app01'], policy: 'DefaultPolicy' })) await finished(j.id);
  });

  it('locking asks first and names the scheduled backups that will fail; Cancel leaves the vault unlocked', { timeout: T }, async () => {
    await nav().getByRole('link', { name: 'Vaults' }).click();
    await page.getByRole('button', { name: 'Lock vault vault-zulu', exact: true }).click();
    await visible(alert());
    expect(await alert().innerText()).toContain('Lock vault vault-zulu?');
    expect(await alert().innerText()).toContain('Scheduled backups of 1 protected VM will fail with VaultLocked until the vault is unlocked.');
    await page.waitForTimeout(300); // the dialog's entrance animation, for the screenshot
    await page.screenshot({ path: path.join(SHOTS, 'admin-lock-confirm.png') });
    await alert().getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => alert().count(), { timeout: 20_000 }).toBe(0);
    await visible(vaultRow('vault-zulu').filter({ hasText: 'Unlocked' }));
    // The other vault protects nothing: its dialog says so.
    await page.getByRole('button', { name: 'Lock vault vault-alpha', exact: true }).click();
    await visible(alert().getByText('No protected VM has scheduled backups into this vault.'));
    await alert().getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => alert().count(), { timeout: 20_000 }).toBe(0);

    await page.getByRole('button', { name: 'Lock vault vault-zulu', exact: true }).click();
    await alert().getByRole('button', { name: 'Lock vault' }).click();
    await expect.poll(() => alert().count(), { timeout: 20_000 }).toBe(0);
    await visible(vaultRow('vault-zulu').filter({ has: page.getByRole('gridcell', { name: 'Locked', exact: true }) }));
    await visible(page.getByText('Vault vault-zulu is locked.'));
  });

  it('on this keychain-less host Unlock offers no "remember", says why, and unlocks; remember asked through the API unlocks too', { timeout: T }, async () => {
    expect(await api<{ keepsSecrets: boolean }>('engineInfo', {})).toMatchObject({ keepsSecrets: false });
    await page.getByRole('button', { name: 'Unlock vault vault-zulu', exact: true }).click();
    const d = dialog();
    await visible(d.getByText('This host has no OS keychain', { exact: false }));
    expect(await d.getByRole('checkbox', { name: 'Remember on this computer' }).count()).toBe(0);
    await visible(d.getByRole('button', { name: 'Set up a key file' }));
    await d.getByLabel(/^Passphrase/).fill(PASS);
    await d.getByRole('button', { name: 'Unlock', exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
    await visible(vaultRow('vault-zulu').filter({ hasText: 'Unlocked' }));

    // An older console (or a script) still asking to remember: the unlock succeeds, nothing is kept.
    await api('lockVault', { name: 'vault-zulu' });
    const v = await api<{ unlocked: boolean; unlocksAtStart: { via: string } }>('unlockVault', { name: 'vault-zulu', passphrase: PASS, remember: true });
    expect(v).toMatchObject({ unlocked: true, unlocksAtStart: { via: 'none' } });
    await api('lockVault', { name: 'vault-zulu' });
    await visible(vaultRow('vault-zulu').filter({ has: page.getByRole('gridcell', { name: 'Locked', exact: true }) }));
  });

  it('sets up the key file from the Unlock dialog: a readable file is refused with chmod 600, a private one is tested and kept', { timeout: T }, async () => {
    await page.getByRole('button', { name: 'Unlock vault vault-zulu', exact: true }).click();
    await page.getByRole('dialog', { name: 'Unlock vault vault-zulu' }).getByRole('button', { name: 'Set up a key file' }).click();
    const d = page.getByRole('dialog', { name: 'Unlock vault-zulu at start' });
    await visible(d.getByRole('heading', { name: 'Unlock vault-zulu at start' }));
    expect(await d.innerText()).toContain('Now: Not at all: scheduled backups will fail');
    await d.getByLabel(/^Key file/).fill('relative.key');
    await d.getByLabel(/^Key file/).blur();
    await visible(d.getByText('Give the absolute path of the file, for example /etc/coffer/vault-zulu.key.'));
    await d.getByLabel(/^Key file/).fill(keyFile);
    await d.getByRole('button', { name: 'Test and use' }).click();
    await visible(d.getByText(`Make it private on the machine running Coffer: chmod 600 ${keyFile}`, { exact: false }));
    expect(await d.innerText()).toContain('Other users can read this file (mode 644)');
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(SHOTS, 'admin-key-file-refused.png') });
    // Nothing was kept.
    expect((await api<{ name: string; unlocksAtStart: { via: string } }[]>('listVaults', {})).find((x) => x.name === 'vault-zulu')?.unlocksAtStart).toEqual({ via: 'none' });

    fs.chmodSync(keyFile, 0o600);
    await d.getByRole('button', { name: 'Test and use' }).click();
    await visible(d.getByText(`The key file unlocked vault-zulu. After a restart, scheduled backups unlock it from ${keyFile}.`));
    await d.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
    await visible(vaultRow('vault-zulu').filter({ hasText: 'Unlocked' }).filter({ hasText: `Key file (${keyFile})` }));
  });

  it('the Vaults list says how each vault unlocks at start, in English and in Dutch', { timeout: T }, async () => {
    await visible(page.getByRole('columnheader', { name: 'Unlocks at start' }));
    await visible(vaultRow('vault-zulu').filter({ hasText: `Key file (${keyFile})` }));
    await visible(vaultRow('vault-alpha').filter({ hasText: 'Not at all: scheduled backups will fail' }));
    await page.screenshot({ path: path.join(SHOTS, 'admin-vaults-unlocks-at-start.png') });
    await setLanguage('nl');
    await visible(page.getByRole('columnheader', { name: 'Ontgrendelt bij start' }));
    await visible(vaultRow('vault-zulu').filter({ hasText: `Sleutelbestand (${keyFile})` }));
    await visible(vaultRow('vault-alpha').filter({ hasText: 'Helemaal niet: geplande back-ups mislukken' }));
    // The lock confirmation in Dutch, with what else it undoes (the key file).
    await page.getByRole('button', { name: 'Kluis vault-zulu vergrendelen' }).click();
    await visible(alert());
    const text = await alert().innerText();
    expect(text).toContain('Kluis vault-zulu vergrendelen?');
    expect(text).toContain('Geplande back-ups van 1 beveiligde VM mislukken met VaultLocked tot de kluis is ontgrendeld.');
    expect(text).toContain(`Coffer gebruikt ook het sleutelbestand ${keyFile} niet meer`);
    await alert().getByRole('button', { name: 'Annuleren' }).click();
    await expect.poll(() => alert().count(), { timeout: 20_000 }).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'admin-vaults-unlocks-at-start-nl.png') });
    await setLanguage('en');
  });

  it('the Vaults page and its unlock, key-file and lock dialogs pass axe, light and dark, en and nl', { timeout: 240_000 }, async () => {
    const problems: string[] = [];
    for (const lang of ['en', 'nl'] as const) {
      await setLanguage(lang);
      for (const theme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: theme });
        const where = `${theme} ${lang}`;
        problems.push(...(await settledAxe(`vaults page ${where}`)));
        await page.getByRole('button', { name: lang === 'en' ? 'Lock vault vault-alpha' : 'Kluis vault-alpha vergrendelen' }).click();
        await visible(alert());
        await page.waitForTimeout(300);
        problems.push(...(await settledAxe(`lock dialog ${where}`)));
        await page.keyboard.press('Escape');
        await expect.poll(() => alert().count(), { timeout: 20_000 }).toBe(0);
        await page.getByRole('button', { name: lang === 'en' ? 'Set up the key file of vault vault-alpha' : 'Het sleutelbestand van kluis vault-alpha instellen' }).click();
        await visible(dialog());
        // The error state too: a submit without a path.
        await dialog().getByRole('button', { name: lang === 'en' ? 'Test and use' : 'Testen en gebruiken' }).click();
        await page.waitForTimeout(300);
        problems.push(...(await settledAxe(`key file dialog ${where}`)));
        await page.keyboard.press('Escape');
        await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
      }
    }
    // The Unlock dialog with its no-keychain explanation (a locked vault).
    await api('lockVault', { name: 'vault-alpha' });
    for (const lang of ['en', 'nl'] as const) {
      await setLanguage(lang);
      for (const theme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: theme });
        await page.getByRole('button', { name: lang === 'en' ? 'Unlock vault vault-alpha' : 'Kluis vault-alpha ontgrendelen' }).click();
        await visible(dialog());
        await page.waitForTimeout(300);
        await page.screenshot({ path: path.join(SHOTS, `admin-unlock-dialog-${theme}-${lang}.png`) });
        problems.push(...(await settledAxe(`unlock dialog ${theme} ${lang}`)));
        await page.keyboard.press('Escape');
        await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await setLanguage('en');
    expect(problems).toEqual([]);
  });

  it('after a restart of the host the vault opens from its key file: a backup runs with nobody typing a passphrase', { timeout: T }, async () => {
    await stopConsole(host?.child);
    await openConsole();
    await visible(vaultRow('vault-zulu').filter({ has: page.getByRole('gridcell', { name: 'Locked', exact: true }) }).filter({ hasText: `Key file (${keyFile})` }));
    const [job] = await api<{ id: number }[]>('backupNow', { vms: ['app01'] });
    expect((await finished(job!.id)).status).toBe('Completed');
    await visible(vaultRow('vault-zulu').filter({ hasText: 'Unlocked' }));
  });
});
