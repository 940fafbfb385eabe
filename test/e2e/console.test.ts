// End to end: `coffer serve` with a temporary data folder, the real console in Debian Chromium.
// Covers the token and Origin checks, the Vaults page (create, duplicate-name validation, delete),
// navigation to every page, both themes, the Dutch locale and the engine-unreachable banner.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CHROMIUM, CLI, ROOT, launchChromium, startConsole, stopConsole } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const TIMEOUT = 60_000;

let server: ChildProcess | undefined;
let consoleUrl = '';
let origin = '';
let token = '';
let browser: Browser;
let context: BrowserContext;
let page: Page;
let tmp = '';


/** Status of a WebSocket upgrade to /ws (101 when accepted). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

const nav = () => page.getByRole('navigation', { name: 'Main navigation' });
const dialog = () => page.getByRole('dialog');
/** The passphrase field, not "Passphrase strength" or "Confirm passphrase" (the label ends in a required mark). */
const PASSPHRASE = /^Passphrase\s*\*?$/;

async function openCreateDialog(): Promise<void> {
  if (await dialog().isVisible()) await page.keyboard.press('Escape');
  await page.getByRole('button', { name: 'Create vault' }).first().click();
  await expect.poll(() => dialog().isVisible()).toBe(true);
}

async function fillCreateDialog(v: { name: string; region: string; path: string; passphrase: string }): Promise<void> {
  const d = dialog();
  await d.getByLabel('Vault name').fill(v.name);
  await d.getByLabel('Region').fill(v.region);
  await d.getByLabel('Storage folder').fill(v.path);
  await d.getByLabel(PASSPHRASE).fill(v.passphrase);
  await d.getByLabel('Confirm passphrase').fill(v.passphrase);
}

describe('browser console', () => {
  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
    mkdirSync(SHOTS, { recursive: true });
    tmp = mkdtempSync(path.join(tmpdir(), 'coffer-e2e-'));
    const host = await startConsole(path.join(tmp, 'data'));
    server = host.child;
    consoleUrl = host.url;
    const u = new URL(consoleUrl);
    origin = u.origin;
    token = new URLSearchParams(u.hash.slice(1)).get('token') ?? '';
    browser = await launchChromium();
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 1360, height: 820 }, colorScheme: 'light' });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses sockets without the right token or from a foreign origin; the static console needs no secret', { timeout: TIMEOUT }, async () => {
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('set-cookie')).toBeNull();
    expect((await fetch(`${origin}/`, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
    const wsUrl = `ws://127.0.0.1:${new URL(origin).port}/ws?token=${token}`;
    expect(await upgradeStatus(wsUrl, { origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(`ws://127.0.0.1:${new URL(origin).port}/ws?token=wrong`, { origin })).toBe(401);
    expect(await upgradeStatus(wsUrl, { origin })).toBe(101);
  });

  it('opens on an empty Vaults page and strips the token from the address bar', { timeout: TIMEOUT }, async () => {
    await page.goto(consoleUrl);
    await expect.poll(() => page.getByRole('heading', { level: 1, name: 'Vaults' }).isVisible(), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => page.getByText('No vaults yet').isVisible()).toBe(true);
    expect(page.url()).not.toContain('token=');
    expect(new URL(page.url()).hash).toBe('#/vaults');
  });

  it('validates the create dialog as you type', { timeout: TIMEOUT }, async () => {
    await openCreateDialog();
    const d = dialog();
    const name = d.getByLabel('Vault name');
    await name.fill('1-bad');
    await name.blur();
    await expect.poll(() => d.getByText('Use 2 to 50 letters, digits or hyphens, starting with a letter.').isVisible()).toBe(true);
    await d.getByLabel('Storage folder').fill('relative/path');
    await d.getByLabel('Storage folder').blur();
    await expect.poll(() => d.getByText('Give an absolute path, for example /srv/backups/vault1.').isVisible()).toBe(true);
    await d.getByLabel(PASSPHRASE).fill('short');
    await d.getByLabel(PASSPHRASE).blur();
    await expect.poll(() => d.getByText('Use at least 8 characters.').isVisible()).toBe(true);
    await expect.poll(() => d.getByText('If it is lost, the backups in this vault cannot be read', { exact: false }).isVisible()).toBe(true);
    await d.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog().count()).toBe(0);
  });

  it('creates a vault from the UI and lists it; the folder gets a config file', { timeout: TIMEOUT }, async () => {
    const storage = path.join(tmp, 'vaults', 'office-1');
    await openCreateDialog();
    await fillCreateDialog({ name: 'office-1', region: 'office', path: storage, passphrase: 'correct horse battery staple' });
    await dialog().getByRole('button', { name: 'Create', exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 30_000 }).toBe(0);
    const row = page.getByRole('row', { name: /office-1/ });
    await expect.poll(() => row.isVisible()).toBe(true);
    const text = await row.innerText();
    expect(text).toContain('office');
    expect(text).toContain(storage);
    expect(existsSync(path.join(storage, 'config'))).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'console-vaults-light.png'), fullPage: true });
  });

  it('shows the duplicate-name message beside the name field', { timeout: TIMEOUT }, async () => {
    await openCreateDialog();
    await fillCreateDialog({ name: 'office-1', region: 'office', path: path.join(tmp, 'vaults', 'other'), passphrase: 'correct horse battery staple' });
    await dialog().getByRole('button', { name: 'Create', exact: true }).click();
    const name = dialog().getByLabel('Vault name');
    await expect.poll(() => dialog().getByText('A vault with this name already exists.', { exact: false }).isVisible(), { timeout: 30_000 }).toBe(true);
    // The message is the name field's own validation message (aria-describedby), not a page-level error.
    const described = await name.evaluate((el) =>
      (el.getAttribute('aria-describedby') ?? '')
        .split(/\s+/)
        .map((id) => document.getElementById(id)?.textContent ?? '')
        .join(' '),
    );
    expect(described).toContain('A vault with this name already exists');
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    expect(existsSync(path.join(tmp, 'vaults', 'other', 'config'))).toBe(false);
    await page.screenshot({ path: path.join(SHOTS, 'console-vault-duplicate-name.png') });
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog().count()).toBe(0);
  });

  it('navigates to every page through the left navigation', { timeout: TIMEOUT }, async () => {
    const pages: [string, string][] = [
      ['Dashboard', '#/dashboard'],
      ['Registered Items', '#/registered-items'],
      ['Protected Items', '#/protected-items'],
      ['Policies', '#/policies'],
      ['Jobs', '#/jobs'],
      ['Vaults', '#/vaults'],
    ];
    for (const [label, hash] of pages) {
      await nav().getByRole('link', { name: label }).click();
      await expect.poll(() => page.getByRole('heading', { level: 1, name: label }).isVisible()).toBe(true);
      expect(new URL(page.url()).hash).toBe(hash);
    }
    // Deep links work on reload (the token lives on in this tab's sessionStorage).
    await page.goto(`${origin}/#/jobs`);
    await expect.poll(() => page.getByRole('heading', { level: 1, name: 'Jobs' }).isVisible(), { timeout: 20_000 }).toBe(true);
    await nav().getByRole('link', { name: 'Vaults' }).click();
    await expect.poll(() => page.getByRole('row', { name: /office-1/ }).isVisible()).toBe(true);
  });

  it('follows the dark colour scheme and switches to Dutch', { timeout: TIMEOUT }, async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(300);
    const bg = await page.locator('#main').evaluate((el) => getComputedStyle(el.parentElement as Element).backgroundColor);
    expect(bg).not.toBe('rgb(245, 245, 245)');
    await page.screenshot({ path: path.join(SHOTS, 'console-vaults-dark.png'), fullPage: true });

    await page.getByRole('button', { name: 'Language' }).click();
    await page.getByRole('menuitemradio', { name: 'Nederlands' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1, name: 'Kluizen' }).isVisible()).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'console-vaults-dark-nl.png'), fullPage: true });
    await page.getByRole('button', { name: 'Taal' }).click();
    await page.getByRole('menuitemradio', { name: 'English' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1, name: 'Vaults' }).isVisible()).toBe(true);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('deletes a vault after the name is typed, keeping its data folder', { timeout: TIMEOUT }, async () => {
    const storage = path.join(tmp, 'vaults', 'office-1');
    await page.getByRole('button', { name: 'Delete vault office-1' }).click();
    const d = page.getByRole('alertdialog');
    await expect.poll(() => d.isVisible()).toBe(true);
    const submit = d.getByRole('button', { name: 'Delete vault' });
    expect(await submit.isDisabled()).toBe(true);
    await d.getByLabel('Type the vault name office-1 to confirm').fill('office-1');
    expect(await submit.isDisabled()).toBe(false);
    await page.waitForTimeout(300); // let the dialog's entrance animation finish for the screenshot
    await page.screenshot({ path: path.join(SHOTS, 'console-vault-delete.png') });
    await submit.click();
    await expect.poll(() => page.getByText('No vaults yet').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(existsSync(path.join(storage, 'config'))).toBe(true);
  });

  it('shows the engine-unreachable banner when the engine goes away', { timeout: TIMEOUT }, async () => {
    server?.kill('SIGTERM');
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Cannot reach the Coffer engine' }).isVisible(), { timeout: 20_000 }).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'console-engine-unreachable.png') });
  });
});
