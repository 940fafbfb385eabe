// End to end (issue 12, section 4): validation that says no instead of changing the input, in
// Debian Chromium against `coffer serve`, in English and Dutch. A policy count of 2.5 years is
// refused beside its field and nothing is saved; the passphrase `password` makes no vault until
// "I understand the risk" is ticked, with the lost-passphrase warning in view; the Add source
// dialog opens without a red error and shows its errors after a submit or an edited field's blur.
// axe-core runs on each dialog, light and dark, in both languages.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { translate, type Locale } from '../../renderer/src/i18n/index.js';
import type { MessageKey } from '../../renderer/src/i18n/en.js';
import { CLI, ROOT, axeProblems, launchChromium, startConsole, stopConsole } from './console-host.js';

const T = 120_000;
const SHOTS = path.join(ROOT, 'test-results');

let server: ChildProcess | undefined;
let browser: Browser;
let page: Page;
let tmp = '';
const problems: string[] = [];

const dialog = () => page.getByRole('dialog');
const visible = (l: Locator, timeout = 15_000) => expect.poll(() => l.isVisible(), { timeout }).toBe(true);
const hidden = (l: Locator) => expect.poll(() => l.isVisible()).toBe(false);
/** The fields of the open dialog that are marked invalid (what shows red). */
const invalidFields = () => dialog().locator('[aria-invalid="true"]');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function inLanguage(lang: Locale): Promise<void> {
  await page.evaluate((l) => localStorage.setItem('coffer.locale', l), lang);
  await page.reload();
  await page.locator('h1#page-title').waitFor({ timeout: 20_000 });
}

async function go(hash: string, title: string): Promise<void> {
  await page.evaluate((h) => (window.location.hash = h), hash);
  await visible(page.getByRole('heading', { level: 1, name: title }));
}

/** axe on what is shown now, in both colour schemes. */
async function axeBothThemes(where: string): Promise<void> {
  for (const theme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: theme });
    // The theme's colours fade in (CSS transitions): check once they have finished.
    await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished.catch(() => undefined))));
    problems.push(...(await axeProblems(page, `${where} ${theme}`)));
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

describe.each<Locale>(['en', 'nl'])('validation that says no (%s)', (lang) => {
  const t = (key: MessageKey, vars?: Record<string, string | number>) => translate(lang, key, vars);
  const vaultName = `vault-${lang}`;

  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    if (!browser) {
      fs.mkdirSync(SHOTS, { recursive: true });
      tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-validation-'));
      const host = await startConsole(path.join(tmp, 'data'));
      server = host.child;
      browser = await launchChromium();
      // bypassCSP: axe-core is injected as an inline script, which the console's CSP forbids.
      const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true });
      page = await context.newPage();
      page.on('pageerror', (err) => console.error('page error:', err));
      await page.goto(host.url);
      await page.getByRole('heading', { level: 1, name: 'Vaults' }).waitFor({ timeout: 20_000 });
    }
    await inLanguage(lang);
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page.screenshot({ path: path.join(SHOTS, `failed-validation-${lang}-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
    if (await dialog().isVisible().catch(() => false)) await page.keyboard.press('Escape');
  });

  it('the Add source dialog opens without a red error and shows errors after submit or an edited field is left', { timeout: T }, async () => {
    await go('#/sources', t('sources.title'));
    await page.getByRole('button', { name: t('sources.add') }).first().click();
    const d = dialog();
    await visible(d.getByLabel(t('sources.folderPath')));
    expect(await invalidFields().count()).toBe(0);
    expect(await d.getByText(t('sources.err.folderPath')).isVisible()).toBe(false);
    expect(await d.getByText(t('validation.region.required')).isVisible()).toBe(false);
    await axeBothThemes(`add-source-open ${lang}`);

    // Leaving a field the admin did not change shows nothing; an edited one shows its error.
    await d.getByLabel(t('sources.folderPath')).focus();
    await d.getByLabel(t('sources.region'), { exact: false }).first().focus();
    expect(await invalidFields().count()).toBe(0);
    await d.getByLabel(t('sources.folderPath')).fill('relative');
    await d.getByLabel(t('sources.folderPath')).blur();
    await visible(d.getByText(t('sources.err.folderPath')));
    expect(await d.getByText(t('validation.region.required')).isVisible()).toBe(false);

    // Submit shows every field's error, and adds nothing.
    await d.getByRole('button', { name: t('sources.addSubmit'), exact: true }).click();
    await visible(d.getByText(t('validation.region.required')));
    expect(await invalidFields().count()).toBe(2);
    await axeBothThemes(`add-source-errors ${lang}`);
    await d.getByRole('button', { name: t('common.cancel') }).click();
    await expect.poll(() => dialog().count()).toBe(0);
    await visible(page.getByText(t('sources.empty.title')));

    // Opened again, it is fresh: no error left from before.
    await page.getByRole('button', { name: t('sources.add') }).first().click();
    await visible(dialog().getByLabel(t('sources.folderPath')));
    expect(await invalidFields().count()).toBe(0);
    await dialog().getByRole('button', { name: t('common.cancel') }).click();
  });

  it('the passphrase `password` makes no vault until "I understand the risk" is ticked', { timeout: T }, async () => {
    await go('#/vaults', t('vaults.title'));
    await page.getByRole('button', { name: t('vaults.create') }).first().click();
    const d = dialog();
    await visible(d.getByLabel(t('vaults.createDialog.name')));
    expect(await invalidFields().count()).toBe(0);
    const passphrase = d.getByLabel(new RegExp(`^${escape(t('vaults.createDialog.passphrase'))}\\s*\\*?$`));
    await d.getByLabel(t('vaults.createDialog.name')).fill(vaultName);
    await d.getByLabel(t('vaults.createDialog.region'), { exact: false }).first().fill('lab');
    await d.getByLabel(t('vaults.createDialog.path')).fill(path.join(tmp, `vault-${lang}`));
    await passphrase.fill('password');
    await d.getByLabel(t('vaults.createDialog.confirm')).fill('password');
    // The lost-passphrase warning is in view, and the meter says weak.
    await visible(d.getByText(t('vaults.createDialog.warning')));
    await visible(d.getByText(new RegExp(`^${escape(t('vaults.strength.1'))} ·`)));

    await d.getByRole('button', { name: t('vaults.createDialog.submit'), exact: true }).click();
    await visible(d.getByText(t('validation.passphrase.weak')));
    const risk = d.getByRole('checkbox', { name: t('vaults.createDialog.acceptWeak') });
    await visible(risk);
    expect(await risk.isChecked()).toBe(false);
    await axeBothThemes(`create-vault-weak ${lang}`);
    // Nothing was made: the dialog stays, the folder holds no vault.
    expect(await dialog().isVisible()).toBe(true);
    expect(fs.existsSync(path.join(tmp, `vault-${lang}`, 'config'))).toBe(false);

    await risk.check();
    await hidden(d.getByText(t('validation.passphrase.weak')));
    await d.getByRole('button', { name: t('vaults.createDialog.submit'), exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 30_000 }).toBe(0);
    await visible(page.getByRole('row').filter({ hasText: vaultName }));
    expect(fs.existsSync(path.join(tmp, `vault-${lang}`, 'config'))).toBe(true);
  });

  it('2.5 years is refused beside its field and nothing is saved', { timeout: T }, async () => {
    await go('#/policies', t('policies.title'));
    await visible(page.getByRole('button', { name: t('policies.showDetails', { name: 'DefaultPolicy' }) }));
    await page.getByRole('button', { name: t('policies.create') }).first().click();
    const d = dialog();
    await visible(d.getByLabel(t('policy.name'), { exact: false }).first());
    expect(await invalidFields().count()).toBe(0);
    await d.getByLabel(t('policy.name'), { exact: false }).first().fill('HalfYears');
    await d.getByRole('checkbox', { name: t('policy.tier.yearly') }).check();
    const years = d.getByLabel(t('policy.keepYears'));
    // What the admin types in their own language: 2.5, or 2,5 in Dutch.
    const typed = lang === 'nl' ? '2,5' : '2.5';
    await years.fill(typed);
    await years.blur();
    await visible(d.getByText(t('policy.err.count', { max: 99 })));
    // The field keeps what was typed: it was not rounded to 3.
    expect(await years.inputValue()).toBe(typed);

    await d.getByRole('button', { name: t('policies.create'), exact: true }).click();
    await visible(d.getByText(t('policy.err.count', { max: 99 })));
    expect(await dialog().isVisible()).toBe(true);
    expect(await years.inputValue()).toBe(typed);
    await axeBothThemes(`policy-not-whole ${lang}`);
    await d.getByRole('button', { name: t('common.cancel') }).click();
    await expect.poll(() => dialog().count()).toBe(0);
    // Nothing saved: the vault still has only its DefaultPolicy.
    await visible(page.getByRole('button', { name: t('policies.showDetails', { name: 'DefaultPolicy' }) }));
    expect(await page.getByRole('button', { name: t('policies.showDetails', { name: 'HalfYears' }) }).count()).toBe(0);

    // A whole number is saved as typed.
    await page.getByRole('button', { name: t('policies.create') }).first().click();
    await dialog().getByLabel(t('policy.name'), { exact: false }).first().fill(`ThreeYears-${lang}`);
    await dialog().getByRole('checkbox', { name: t('policy.tier.yearly') }).check();
    await dialog().getByLabel(t('policy.keepYears')).fill('3');
    await dialog().getByLabel(t('policy.keepYears')).blur();
    await dialog().getByRole('button', { name: t('policies.create'), exact: true }).click();
    await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
    await visible(page.getByRole('button', { name: t('policies.showDetails', { name: `ThreeYears-${lang}` }) }));
  });
});

describe('axe on the dialogs above', () => {
  it('found no serious or critical problem, light and dark, en and nl', () => {
    expect(problems, problems.join('\n')).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });
});
