// Issue 12 item 6 in Chromium: empty lists that name the next step (never one already done), a
// Protected Items row that shows the backup running on it with its honest progress and then its
// end, and a recovery point that says until when it is kept and why; in English and Dutch, with
// axe on each page in both themes. The vault is on S3 (s3rver on 127.0.0.1) behind a small proxy
// of this test that can hold pack uploads: the backup then stays in flight, part done, for as
// long as the test looks at it (no timing), and finishes once the uploads are let through.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryPoint } from '../../preload/contract.js';
import { startS3rver, type Emulator } from '../helpers/emulators.js';
import { CLI, ROOT, consolePage, launchChromium, makeVm, startConsole, stopConsole, visible } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const T = 120_000;
const PASS = 'correct horse battery staple';

let server: ChildProcess | undefined;
let browser: Browser;
let page: Page;
let tmp = '';
let em: Emulator | undefined;
let proxy: http.Server | undefined;
const savedEnv = { ...process.env };

/**
 * Pack uploads through the proxy: while `holding`, requests for the first pack seen go through
 * and those for any other pack wait in `held` until release(). Everything else always goes through.
 */
const gate = { holding: false, first: undefined as string | undefined, held: [] as Array<() => void> };
function release(): void {
  gate.holding = false;
  for (const go of gate.held.splice(0)) go();
}

function startProxy(target: number): Promise<string> {
  proxy = http.createServer((req, res) => {
    const forward = () => {
      const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    const key = (req.url ?? '').split('?')[0]!;
    if (!gate.holding || !key.includes('/packs/')) return forward();
    gate.first ??= key;
    if (key === gate.first) return forward();
    gate.held.push(forward);
  });
  return new Promise((resolve) => proxy!.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(proxy!.address() as AddressInfo).port}`)));
}

const { api, go, useLanguage, axeBothThemes, dialog, row } = consolePage(() => page);

describe('small things in the console: next steps, a running backup on its row, kept until', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    fs.mkdirSync(SHOTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-small-'));
    const hv = path.join(tmp, 'hypervisor');
    // Three VMs in one folder: their cloud service is that folder (shop) under every layout rule.
    makeVm(path.join(hv, 'shop'), 'app01', '0b3c9a52-1111-4222-8333-444455556611', 40);
    makeVm(path.join(hv, 'shop'), 'db01', '0b3c9a52-1111-4222-8333-444455556612', 2);
    makeVm(path.join(hv, 'shop'), 'web01', '0b3c9a52-1111-4222-8333-444455556613', 2);
    em = await startS3rver();
    const endpoint = await startProxy(em.port);
    // The S3 credentials reach `coffer serve` as the conventional environment variables.
    Object.assign(process.env, em.env);
    const host = await startConsole(path.join(tmp, 'data'));
    server = host.child;
    browser = await launchChromium();
    // bypassCSP: axe-core is injected as an inline script, which the console's CSP forbids.
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    await page.goto(host.url);
    await page.locator('h1#page-title').waitFor({ timeout: 20_000 });
    await api('addSource', { kind: 'folder', target: hv, region: 'lab', name: 'lab-host' });
    await api('createVault', { name: 'vault-s3', region: 'lab', s3: 's3://vaults/lab', endpoint, passphrase: PASS });
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page?.screenshot({ path: path.join(SHOTS, `failed-small-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    release();
    await browser?.close().catch(() => {});
    await stopConsole(server);
    await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
    proxy?.closeAllConnections();
    await em?.dispose();
    process.env = savedEnv;
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }, T);

  it('Registered Items says the next step: Discover first, then register what discovery found (en, nl)', { timeout: T }, async () => {
    await go('#/registered-items', 'Registered Items');
    const empty = page.getByRole('heading', { level: 2, name: 'No registered VMs in this vault' }).locator('..');
    await visible(empty);
    await visible(empty.getByText('Press Discover to look for virtual machines in your sources, then register them.'));
    // Protected Items does not offer Protect for nothing: it sends the admin to register first.
    await go('#/protected-items', 'Protected Items');
    await visible(page.getByText('No VM is registered to this vault yet: discover and register VMs on Registered Items first.'));
    await visible(page.getByRole('link', { name: 'Go to Registered Items' }));

    await go('#/registered-items', 'Registered Items');
    await page.getByRole('button', { name: 'Discover' }).click();
    await visible(page.getByText('3 virtual machines can be registered.'), 30_000);
    await visible(page.getByText('Discovery found virtual machines for this vault (listed above): register them, then protect them with a policy.'));
    expect(await page.getByText('Press Discover', { exact: false }).count()).toBe(0);
    const problems = await axeBothThemes('registered-items en');

    await useLanguage('nl');
    await go('#/registered-items', 'Geregistreerde items');
    await visible(page.getByText('3 virtuele machines kunnen worden geregistreerd.'));
    await visible(page.getByText('Detectie vond virtuele machines voor deze kluis (hierboven): registreer ze en beveilig ze daarna met een beleid.'));
    expect(await page.getByText('Druk op Detecteren', { exact: false }).count()).toBe(0);
    problems.push(...(await axeBothThemes('registered-items nl')));
    await go('#/protected-items', 'Beveiligde items');
    await visible(page.getByText('Er is nog geen VM bij deze kluis geregistreerd', { exact: false }));
    problems.push(...(await axeBothThemes('protected-items empty nl')));
    await useLanguage('en');
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('Protected Items shows the running backup with its progress on the row, then its end', { timeout: 180_000 }, async () => {
    await api('registerVms', { vault: 'vault-s3', vms: ['app01'] });
    await go('#/registered-items', 'Registered Items');
    await visible(row('app01', 'Registered'), 30_000);
    await api('protectVms', { vault: 'vault-s3', vms: ['app01'], policy: 'DefaultPolicy' });
    await go('#/protected-items', 'Protected Items');
    const app = row('shop', 'app01');
    await visible(app.filter({ hasText: 'Protected (pending initial backup)' }), 30_000);
    expect(await app.getByRole('progressbar').count()).toBe(0);

    gate.holding = true;
    await page.getByRole('button', { name: 'Backup now: shop/app01' }).click();
    await dialog().getByRole('button', { name: 'Start backup' }).click();
    await expect.poll(() => dialog().count(), { timeout: 20_000 }).toBe(0);
    // Held after its first pack: part of the disks is safe in the vault, the rest waits.
    const bar = app.getByRole('progressbar', { name: 'Backup of shop/app01' });
    await visible(bar, 60_000);
    await visible(app.getByText('In progress'));
    await expect.poll(() => gate.held.length, { timeout: 60_000 }).toBeGreaterThan(0);
    const progress = app.getByText(/^\d+% · .+ of .+$/);
    await expect
      .poll(async () => Number(/^(\d+)%/.exec((await progress.first().innerText().catch(() => '')) || '')?.[1] ?? 0), { timeout: 60_000 })
      .toBeGreaterThan(0);
    // The bar carries the same numbers as the text beside it.
    // Read together until they agree: the backup goes on reading until the held packs stop it, so
    // a progress event may land between two reads; if they never agree, the poll fails.
    let text = '';
    await expect
      .poll(
        async () => {
          text = await progress.first().innerText();
          const valueText = await bar.getAttribute('aria-valuetext');
          return valueText === text ? 'same' : `text "${text}", bar "${valueText}"`;
        },
        { timeout: 30_000 },
      )
      .toBe('same');
    const percent = Number(/^(\d+)%/.exec(text)![1]);
    expect(percent, text).toBeLessThan(100);
    expect(await app.getByRole('button', { name: 'Backup now: shop/app01' }).isDisabled()).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'small-protected-running.png') });
    const problems = await axeBothThemes('protected-items running en');
    const jobLink = app.getByRole('link', { name: 'View job' });
    expect(await jobLink.getAttribute('href')).toMatch(/^#\/jobs\?id=\d+$/);

    release();
    await expect.poll(() => app.getByRole('progressbar').count(), { timeout: 90_000 }).toBe(0);
    await visible(app.filter({ hasText: 'Completed' }));
    await visible(app.filter({ hasText: /Protected(?! \()/ }));
    expect(await app.getByRole('button', { name: 'Backup now: shop/app01' }).isDisabled()).toBe(false);
    problems.push(...(await axeBothThemes('protected-items after en')));
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('a Backup Now point says until when it is kept and why (en, nl)', { timeout: T }, async () => {
    const vm = ((await api('listVms', { vault: 'vault-s3', registered: true })) as Array<{ id: string; name: string }>).find((v) => v.name === 'app01')!;
    const [point] = (await api('listPoints', { vm: vm.id })) as RecoveryPoint[];
    // The core's instant: 30 days (DefaultPolicy's daily tier) after the backup was asked for.
    expect(point!.keptUntil?.basis).toEqual({ kind: 'default', days: 30, from: 'daily' });
    const until = new Date(point!.keptUntil!.until);
    expect(Math.round((until.getTime() - Date.parse(point!.created)) / 86_400_000)).toBe(30);

    await go(`#/recovery-points?vault=vault-s3&vm=${vm.id}`, 'Recovery points');
    const points = page.getByRole('table', { name: 'Recovery points of shop/app01' });
    await visible(points);
    await visible(points.getByText('Retain until', { exact: true }));
    const kept = points.getByText(/^Backup now, until .+ \(default: 30 days, the policy's daily retention\)$/);
    await visible(kept);
    const shown = await kept.innerText();
    expect(shown).toContain(String(until.getFullYear()));
    expect(shown).toContain(String(until.getDate()));
    await page.screenshot({ path: path.join(SHOTS, 'small-recovery-points-kept-until.png') });
    const problems = await axeBothThemes('recovery-points en');

    await useLanguage('nl');
    await go(`#/recovery-points?vault=vault-s3&vm=${vm.id}`, 'Herstelpunten');
    const punten = page.getByRole('table', { name: 'Herstelpunten van shop/app01' });
    await visible(punten);
    await visible(punten.getByText('Bewaren tot', { exact: true }));
    const bewaard = punten.getByText(/^Nu back-uppen, tot .+ \(standaard: 30 dagen, de dagelijkse bewaartermijn van het beleid\)$/);
    await visible(bewaard);
    expect(await bewaard.innerText()).toContain(String(until.getFullYear()));
    problems.push(...(await axeBothThemes('recovery-points nl')));
    await go('#/protected-items', 'Beveiligde items');
    await visible(row('shop', 'app01'));
    problems.push(...(await axeBothThemes('protected-items nl')));
    await useLanguage('en');
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
