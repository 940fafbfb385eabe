// Issue 14 §1 in Chromium: Recovery points -> Browse files on a real GPT disk (ext4, FAT32, NTFS)
// backed up from a folder source: the partitions, a folder's entries with sizes and dates, the
// filter, multi-select, Restore to folder as a job (files land byte-identical with their modes),
// Download of a file through the host; in English and Dutch, axe on the dialog in both themes.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGptDisk, domainXml } from '../helpers/fs-images.js';
import { ROOT, consolePage, launchChromium, startConsole, stopConsole, visible } from './console-host.js';

const T = 180_000;
const PASS = 'correct horse battery staple';
const SCREENSHOT = path.join(ROOT, 'docs/screenshots/file-browser.png');

let server: ChildProcess | undefined;
let browser: Browser;
let page: Page;
let tmp = '';
let tree = '';

const { api, axeBothThemes, useLanguage, dialog, completed } = consolePage(() => page);

async function openBrowser(heading: string, button: RegExp): Promise<void> {
  await page.evaluate(() => (window.location.hash = '#/recovery-points?vault=vault-files&vm='));
  await visible(page.getByRole('heading', { level: 1, name: heading }));
  await page.getByRole('button', { name: button }).first().click();
  await visible(dialog());
}

describe('Browse files of a recovery point', () => {
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-e2e-files-'));
    const rack = path.join(tmp, 'hv', 'rack');
    fs.mkdirSync(rack, { recursive: true });
    const built = buildGptDisk(rack, 256);
    tree = path.join(tmp, 'tree');
    fs.renameSync(built.tree, tree);
    fs.writeFileSync(path.join(rack, 'files01.xml'), domainXml('files01', 'e0000000-0000-4000-8000-000000000014', [{ file: 'disk.img', type: 'raw' }]));
    const host = await startConsole(path.join(tmp, 'data'));
    server = host.child;
    browser = await launchChromium();
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: true, acceptDownloads: true });
    page = await context.newPage();
    await page.goto(host.url);
    await page.locator('h1#page-title').waitFor({ timeout: 20_000 });
    await api('addSource', { kind: 'folder', target: path.join(tmp, 'hv'), region: 'lab', name: 'lab-host' });
    await api('createVault', { name: 'vault-files', region: 'lab', path: path.join(tmp, 'vault'), passphrase: PASS });
    await completed([await api('discoverVms', { vault: 'vault-files' })]);
    await completed(await api('registerVms', { vault: 'vault-files', vms: ['files01'] }));
    await completed(await api('protectVms', { vault: 'vault-files', vms: ['files01'], policy: 'DefaultPolicy' }));
    await completed(await api('backupNow', { vms: ['files01'] }));
  }, T);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('shows the partitions and a folder, filters, restores a selection to a folder as a job, and downloads a file (en)', { timeout: T }, async () => {
    await openBrowser('Recovery points', /^Browse files of the point of/);
    const d = dialog();
    await visible(d.getByRole('heading', { name: 'Files of files01' }));
    await visible(d.getByRole('button', { name: /Partition 1: ext4/ }));
    await visible(d.getByRole('button', { name: /Partition 2: FAT32/ }));
    await visible(d.getByRole('button', { name: /Partition 3: NTFS/ }));
    await visible(d.getByRole('row').filter({ hasText: 'hello.txt' }));
    await visible(d.getByRole('row').filter({ hasText: 'link-to-hello → hello.txt' }));
    expect(await d.getByRole('row').filter({ hasText: 'hello.txt' }).first().textContent()).toContain('-rw-r-----');

    // The filter keeps only matching names.
    await d.getByLabel('Filter by name').fill('hello');
    await expect.poll(() => d.getByRole('row').count()).toBe(3); // header, hello.txt, link-to-hello
    await d.getByLabel('Filter by name').fill('');

    // Into a folder and back, selecting on the way.
    await d.getByRole('checkbox', { name: 'Select hello.txt' }).check();
    await page.mouse.move(0, 0);
    await page.screenshot({ path: SCREENSHOT });
    await d.getByRole('button', { name: 'Open folder etc' }).click();
    await visible(d.getByRole('button', { name: 'Open folder app' }));
    await d.getByRole('checkbox', { name: 'Select app' }).check();
    await visible(d.getByText('2 selected'));
    // The pointer off the table: a hovered row is not what the page looks like at rest.
    await page.mouse.move(0, 0);
    expect(await axeBothThemes('Browse files (en)')).toEqual([]);

    // Restore to folder: a job with progress; the files land as they were.
    const target = path.join(tmp, 'restored');
    await d.getByRole('button', { name: 'Restore to folder' }).click();
    await d.getByLabel(/Target folder/).fill(target);
    await d.getByRole('button', { name: 'Restore 2 item(s)' }).click();
    await visible(d.getByText(/^Restored 3 files \(/), 120_000);
    expect(fs.readFileSync(path.join(target, 'hello.txt'), 'utf8')).toBe(fs.readFileSync(path.join(tree, 'hello.txt'), 'utf8'));
    expect(fs.statSync(path.join(target, 'hello.txt')).mode & 0o777).toBe(0o640);
    expect(fs.readlinkSync(path.join(target, 'app', 'up-link'))).toBe('../../hello.txt');
    expect(fs.readFileSync(path.join(target, 'app', 'config.ini'), 'utf8')).toBe('[app]\nkey = value\n');
    await d.getByRole('button', { name: 'Back to the files' }).click();

    // Download in the browser console: the host streams the file with the console's token.
    await d.getByRole('button', { name: 'Root', exact: true }).click();
    await visible(d.getByRole('checkbox', { name: 'Select hello.txt' }));
    const [download] = await Promise.all([page.waitForEvent('download'), d.getByRole('button', { name: 'Download' }).click()]);
    // Two items selected (hello.txt and the folder etc/app): a zip.
    expect(download.suggestedFilename()).toMatch(/^files01-\d{8}T\d{9}Z-[0-9a-f]{8}\.zip$/);
    const saved = path.join(tmp, 'download.zip');
    await download.saveAs(saved);
    expect(fs.readFileSync(saved).subarray(0, 2).toString('latin1')).toBe('PK');
  });

  it('speaks Dutch and stays accessible in both themes (nl)', { timeout: T }, async () => {
    await useLanguage('nl');
    await openBrowser('Herstelpunten', /^Bestanden bekijken van het punt van/);
    const d = dialog();
    await visible(d.getByRole('heading', { name: 'Bestanden van files01' }));
    await visible(d.getByLabel('Filteren op naam'));
    await visible(d.getByRole('button', { name: 'Herstellen naar map' }));
    expect(await axeBothThemes('Bestanden bekijken (nl)')).toEqual([]);
    await useLanguage('en');
  });
});
