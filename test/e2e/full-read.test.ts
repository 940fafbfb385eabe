// Issue 13 §2 in Chromium: the Backup now dialog's "Full read" checkbox reads a disk in full even
// though it is unchanged, and the job says why; without it the next backup reuses the disk and
// says "unchanged since point X". The policy form has its full-read interval field. English and
// Dutch, axe on each view in both themes.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../preload/contract.js';
import { CLI, ROOT, consolePage, launchChromium, makeVm, startConsole, stopConsole, visible } from './console-host.js';

const SHOTS = path.join(ROOT, 'test-results');
const T = 180_000;
const PASS = 'correct horse battery staple';

let server: ChildProcess | undefined;
let browser: Browser;
let page: Page;
let tmp = '';

const { api, go, useLanguage, axeBothThemes, dialog, row, completed } = consolePage(() => page);

/** The VM's Backup jobs, newest first, once `count` of them have ended. */
async function endedBackups(count: number): Promise<Job[]> {
  let jobs: Job[] = [];
  await expect
    .poll(
      async () => {
        jobs = ((await api('listJobs', { operation: ['Backup'] })) as { jobs: Job[] }).jobs.filter((j) => j.endedAt !== null);
        return jobs.length;
      },
      { timeout: 90_000 },
    )
    .toBeGreaterThanOrEqual(count);
  return jobs;
}

describe('Backup now with a full read', () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    fs.mkdirSync(SHOTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-full-read-'));
    const hv = path.join(tmp, 'hypervisor');
    makeVm(path.join(hv, 'shop'), 'web01', '0b3c9a52-1111-4222-8333-444455556699', 4);
    const host = await startConsole(path.join(tmp, 'data'));
    server = host.child;
    browser = await launchChromium();
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    await page.goto(host.url);
    await page.locator('h1#page-title').waitFor({ timeout: 20_000 });
    await api('addSource', { kind: 'folder', target: hv, region: 'lab', name: 'lab-host' });
    await api('createVault', { name: 'vault-a', region: 'lab', path: path.join(tmp, 'vault'), passphrase: PASS });
  }, T);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await page?.screenshot({ path: path.join(SHOTS, `failed-full-read-${ctx.task.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }, T);

  it('reads an unchanged disk in full when "Full read" is checked, and says why; without it, "unchanged since point"', { timeout: T }, async () => {
    await completed([await api('discoverVms', { vault: 'vault-a' })]);
    // Registration is a job: the VM counts as registered (and can be protected) once it has ended,
    // not once listVms shows it in the vault (that is already so while it registers).
    await completed(await api('registerVms', { vault: 'vault-a', vms: ['web01'] }));
    await api('protectVms', { vault: 'vault-a', vms: ['web01'], policy: 'DefaultPolicy' });
    await go('#/protected-items', 'Protected Items');
    const web = row('shop', 'web01');
    await visible(web.filter({ hasText: 'Protected (pending initial backup)' }), 30_000);
    // The first point, as any Backup now.
    await page.getByRole('button', { name: 'Backup now: shop/web01' }).click();
    await dialog().getByRole('button', { name: 'Start backup' }).click();
    const [first] = await endedBackups(1);
    expect(first!.status).toBe('Completed');

    await visible(web.filter({ hasText: 'Completed' }), 30_000);
    await expect.poll(() => web.getByRole('button', { name: 'Backup now: shop/web01' }).isDisabled(), { timeout: 30_000 }).toBe(false);
    await page.getByRole('button', { name: 'Backup now: shop/web01' }).click();
    const fullRead = dialog().getByRole('checkbox', { name: 'Full read' });
    await visible(fullRead);
    await visible(dialog().getByText('Read every disk in full, even those unchanged since their last point.'));
    expect(await fullRead.isChecked()).toBe(false);
    await fullRead.check();
    const problems = await axeBothThemes('backup-now dialog en');
    await page.screenshot({ path: path.join(SHOTS, 'full-read-dialog.png') });
    await dialog().getByRole('button', { name: 'Start backup' }).click();
    const [forced] = await endedBackups(2);
    expect(forced!.status).toBe('Completed');
    await go(`#/jobs?id=${forced!.id}`, 'Jobs');
    await visible(page.getByText(/web01\.img: read in full \(a full read was asked for\)\./));

    await go('#/protected-items', 'Protected Items');
    await expect.poll(() => web.getByRole('button', { name: 'Backup now: shop/web01' }).isDisabled(), { timeout: 30_000 }).toBe(false);
    await page.getByRole('button', { name: 'Backup now: shop/web01' }).click();
    expect(await dialog().getByRole('checkbox', { name: 'Full read' }).isChecked()).toBe(false);
    await dialog().getByRole('button', { name: 'Start backup' }).click();
    const [again] = await endedBackups(3);
    const forcedPoint = forced!.details.pointId as string;
    await go(`#/jobs?id=${again!.id}`, 'Jobs');
    await visible(page.getByText(`web01.img: unchanged since point ${forcedPoint}.`, { exact: false }));
    problems.push(...(await axeBothThemes('job unchanged en')));

    await useLanguage('nl');
    await go(`#/jobs?id=${again!.id}`, 'Taken');
    await visible(page.getByText(`web01.img: ongewijzigd sinds punt ${forcedPoint}.`, { exact: false }));
    await go('#/protected-items', 'Beveiligde items');
    await page.getByRole('button', { name: 'Nu back-uppen: shop/web01' }).click();
    await visible(dialog().getByRole('checkbox', { name: 'Volledig lezen' }));
    problems.push(...(await axeBothThemes('backup-now dialog nl')));
    await dialog().getByRole('button', { name: 'Annuleren' }).click();
    await useLanguage('en');
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('the policy form has the full-read interval, once a week of its schedule by default (en, nl)', { timeout: T }, async () => {
    await go('#/policies', 'Policies');
    await page.getByRole('button', { name: 'Create policy' }).click();
    const every = dialog().getByRole('spinbutton', { name: 'Full read every (backups)' });
    await visible(every);
    expect(await every.inputValue()).toBe('7');
    await visible(dialog().getByText(/Default: once a week \(7 backups with this schedule\)\./));
    const problems = await axeBothThemes('policy form en');
    await dialog().getByRole('button', { name: 'Cancel' }).click();

    await useLanguage('nl');
    await go('#/policies', 'Beleid');
    await page.getByRole('button', { name: 'Beleid maken' }).click();
    await visible(dialog().getByRole('spinbutton', { name: 'Volledig lezen elke (back-ups)' }));
    problems.push(...(await axeBothThemes('policy form nl')));
    await dialog().getByRole('button', { name: 'Annuleren' }).click();
    await useLanguage('en');
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
