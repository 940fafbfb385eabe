// Issue 15 §3-4 in Chromium: a machine's deployment file fixes the console's language and theme,
// which then show their value with "Managed by your organisation" on a disabled control; and the
// dashboard's next backups say a backup is deferred while the laptop is on battery (a recorded
// /sys/class/power_supply tree). In English and Dutch, axe in the theme each deployment fixes.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../main/core/engine.js';
import { createRouter } from '../../main/rpc/router.js';
import { discoverRegisterProtect } from '../helpers/engine.js';
import { unwrap } from '../helpers/cli.js';
import { CLI, ROOT, axeProblems, launchChromium, startConsole, stopConsole } from './console-host.js';

const ON_BATTERY = path.join(ROOT, 'test/fixtures/power_supply/laptop-on-battery-20');

let browser: Browser;
let tmp = '';
let data = '';
const servers: ChildProcess[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-managed-'));
  data = path.join(tmp, 'data');
  const vmDir = path.join(tmp, 'src', 'rack1');
  fs.mkdirSync(vmDir, { recursive: true });
  fs.writeFileSync(path.join(vmDir, 'db01.img'), randomBytes(64 * 1024));
  fs.writeFileSync(
    path.join(vmDir, 'db01.xml'),
    `<domain type='kvm'><name>db01</name><uuid>5e0f8a1c-2222-4333-8444-555566660015</uuid><devices><disk type='file' device='disk'><source file='db01.img'/><target dev='vda'/></disk></devices></domain>`,
  );
  // A protected VM with a nightly schedule, so the dashboard lists a next backup.
  process.env.COFFER_TEST_KDF_N = '1024';
  const engine = Engine.open({ dataDir: data });
  const router = createRouter(engine, 'cli');
  unwrap(await router.invoke('createVault', { name: 'laptop', region: 'r1', path: path.join(tmp, 'vault'), passphrase: 'correct horse battery staple' }));
  unwrap(await router.invoke('addSource', { kind: 'folder', target: path.join(tmp, 'src'), region: 'r1' }));
  await discoverRegisterProtect({ engine, router }, 'laptop', ['db01']);
  await engine.close();
  browser = await launchChromium();
});

afterAll(async () => {
  process.env = savedEnv;
  await Promise.all(servers.map((s) => stopConsole(s)));
  await browser?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** `coffer serve` under a deployment file and a recorded power tree; the console page open on the dashboard. */
async function consoleUnder(deployment: object): Promise<Page> {
  const file = path.join(tmp, `deployment-${servers.length}.json`);
  fs.writeFileSync(file, JSON.stringify(deployment));
  process.env.COFFER_DEPLOYMENT_FILE = file;
  process.env.COFFER_POWER_SUPPLY_ROOT = ON_BATTERY;
  const host = await startConsole(data);
  servers.push(host.child);
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, locale: 'en-US', bypassCSP: true });
  await page.goto(host.url);
  await page.locator('h1#page-title').waitFor({ timeout: 20_000 });
  await page.evaluate(() => (window.location.hash = '#/dashboard'));
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor({ timeout: 20_000 });
  return page;
}

async function stopLast(): Promise<void> {
  await stopConsole(servers.pop());
}

const cases = [
  { language: 'en', theme: 'dark', managed: 'Managed by your organisation', themeLabel: 'Theme: Dark. Managed by your organisation', languageLabel: 'Language: English. Managed by your organisation', deferred: '(deferred: on battery)' },
  { language: 'nl', theme: 'light', managed: 'Beheerd door uw organisatie', themeLabel: 'Thema: Licht. Beheerd door uw organisatie', languageLabel: 'Taal: Nederlands. Beheerd door uw organisatie', deferred: '(uitgesteld: op batterij)' },
] as const;

describe('settings managed by the deployment file, and backups deferred on battery', () => {
  for (const c of cases) {
    it(`${c.language}, ${c.theme}: the managed language and theme are shown, locked and marked; the next backup says it is deferred`, async () => {
      const page = await consoleUnder({ version: 1, language: c.language, theme: c.theme, notifications: 'failures', power: { batteryBelowPercent: 30 } });
      try {
        await expect.poll(() => page.evaluate(() => document.documentElement.lang), { timeout: 20_000 }).toBe(c.language);
        const theme = page.getByRole('button', { name: c.themeLabel });
        const language = page.getByRole('button', { name: c.languageLabel });
        await expect.poll(() => theme.isVisible(), { timeout: 20_000 }).toBe(true);
        expect(await theme.getAttribute('aria-disabled')).toBe('true');
        expect(await language.getAttribute('aria-disabled')).toBe('true');
        expect(await page.getByText(c.managed, { exact: true }).count()).toBe(2);
        // Clicking a managed setting opens no menu: nothing to choose.
        await language.click({ force: true });
        expect(await page.getByRole('menu').count()).toBe(0);
        // The console wears the managed theme, whatever the browser prefers.
        await page.emulateMedia({ colorScheme: c.theme === 'dark' ? 'light' : 'dark' });
        await expect
          .poll(() => page.evaluate(() => getComputedStyle(document.querySelector('.fui-FluentProvider')!).getPropertyValue('--colorNeutralBackground1').trim().toLowerCase()), { timeout: 20_000 })
          .toSatisfy((bg: string) => (bg === '#ffffff') === (c.theme === 'light'));
        const next = page.getByRole('table', { name: c.language === 'en' ? 'Next scheduled backups' : /gepland/i });
        await expect.poll(() => next.getByRole('row').filter({ hasText: 'db01' }).textContent(), { timeout: 20_000 }).toContain(c.deferred);
        expect(await axeProblems(page, `dashboard ${c.language} ${c.theme}`)).toEqual([]);
      } finally {
        await page.close();
        await stopLast();
      }
    });
  }

  it('a deployment file that sets no setting manages none: the language menu opens', async () => {
    const page = await consoleUnder({ version: 1 });
    try {
      expect(await page.getByText('Managed by your organisation').count()).toBe(0);
      await page.getByRole('button', { name: /^Language: / }).click();
      expect(await page.getByRole('menuitemradio', { name: 'Nederlands' }).count()).toBe(1);
    } finally {
      await page.close();
      await stopLast();
    }
  });
});
