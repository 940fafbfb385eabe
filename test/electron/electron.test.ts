// The desktop app through Playwright's _electron: the real main process, the sandboxed preload
// and the console, on a temporary data folder. It needs the Electron runtime (fetched by
// postinstall where GitHub is reachable) and a display; without them it is skipped, saying why.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { _electron as electron, type ElectronApplication, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TIMEOUT = 60_000;

/** The Electron binary, or why this machine cannot run the desktop app. */
function electronRuntime(): { binary: string; skip?: undefined } | { binary?: undefined; skip: string } {
  let binary: unknown;
  try {
    // The electron package exports its binary's path and throws when the runtime was never fetched.
    binary = createRequire(import.meta.url)('electron');
  } catch {
    return { skip: 'Electron runtime not downloaded on this machine' };
  }
  if (typeof binary !== 'string' || !existsSync(binary)) return { skip: 'Electron runtime not downloaded on this machine' };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { skip: 'no display (DISPLAY or WAYLAND_DISPLAY); run under xvfb-run' };
  }
  return { binary };
}

const runtime = electronRuntime();
if (runtime.skip) console.log(`Electron desktop tests skipped: ${runtime.skip}`);

describe.skipIf(runtime.skip !== undefined)(
  `Electron desktop${runtime.skip ? ` (skipped: ${runtime.skip})` : ''}`,
  () => {
    let app: ElectronApplication;
    let page: Page;
    let tmp = '';

    beforeAll(async () => {
      tmp = mkdtempSync(path.join(tmpdir(), 'coffer-electron-'));
      app = await electron.launch({
        executablePath: runtime.binary,
        args: ['.'],
        cwd: ROOT,
        env: { ...process.env, COFFER_DATA_DIR: path.join(tmp, 'data'), COFFER_TEST_KDF_N: '1024' },
        timeout: TIMEOUT,
      });
      page = await app.firstWindow();
      page.on('pageerror', (err) => console.error('page error:', err));
    }, TIMEOUT);

    afterAll(async () => {
      await app?.close().catch(() => {});
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it('opens the console from the app scheme, with no Node in the page', { timeout: TIMEOUT }, async () => {
      await expect.poll(() => page.getByRole('heading', { level: 1, name: 'Vaults' }).isVisible(), { timeout: 20_000 }).toBe(true);
      expect(await page.title()).toBe('Coffer');
      expect(page.url()).toMatch(/^coffer:\/\/app\/index\.html/);
      const globals = await page.evaluate(() => ({
        require: typeof (window as unknown as { require?: unknown }).require,
        process: typeof (window as unknown as { process?: unknown }).process,
        coffer: typeof window.coffer,
      }));
      expect(globals).toEqual({ require: 'undefined', process: 'undefined', coffer: 'object' });
    });

    it('answers window.coffer through the real preload, and pushes events back', { timeout: TIMEOUT }, async () => {
      expect(await page.evaluate(() => window.coffer.listVaults({}))).toEqual({ ok: true, value: [] });
      const info = await page.evaluate(() => window.coffer.engineInfo({}));
      expect(info).toMatchObject({ ok: true, value: { face: 'electron', dataDir: path.join(tmp, 'data') } });

      const storage = path.join(tmp, 'vaults', 'desk-1');
      const created = await page.evaluate(
        (p) =>
          new Promise<{ event: unknown; result: unknown }>((resolve) => {
            const off = window.coffer.on('vaultsChanged', (event) => {
              off();
              resolve({ event, result });
            });
            let result: unknown;
            void window.coffer
              .createVault({ name: 'desk-1', region: 'office', path: p, passphrase: 'correct horse battery staple' })
              .then((r) => (result = r));
          }),
        storage,
      );
      expect(created.event).toMatchObject({ names: expect.arrayContaining(['desk-1']) });
      expect(existsSync(path.join(storage, 'config'))).toBe(true);
      // The Vaults page follows the event without a reload.
      await expect.poll(() => page.getByRole('row', { name: /desk-1/ }).isVisible(), { timeout: 20_000 }).toBe(true);

      const invalid = await page.evaluate(() => window.coffer.showVault({ name: '1' }));
      expect(invalid).toMatchObject({ ok: false, error: { code: 'InvalidArgument' } });
    });

    it('denies new windows and navigation away from the console', { timeout: TIMEOUT }, async () => {
      expect(await page.evaluate(() => window.open('https://example.com') === null)).toBe(true);
      // The main process sees the attempt (will-navigate) and refuses it: wait for that, not a while.
      type Main = typeof globalThis & { navigationAttempt?: Promise<string> };
      await app.evaluate(({ BrowserWindow }) => {
        (globalThis as Main).navigationAttempt = new Promise((resolve) => BrowserWindow.getAllWindows()[0]!.webContents.once('will-navigate', (_event, url) => resolve(url)));
      });
      await page.evaluate(() => {
        window.location.href = 'https://example.com/';
      });
      expect(await app.evaluate(() => (globalThis as Main).navigationAttempt)).toBe('https://example.com/');
      expect(page.url()).toMatch(/^coffer:\/\/app\//);
      expect(app.windows()).toHaveLength(1);
    });

    it('runs the walkthrough in the desktop window: source, discover, register, protect, back up, restore', { timeout: 3 * TIMEOUT }, async () => {
      const api = async <T>(method: string, args: unknown): Promise<T> => {
        const r = (await page.evaluate(([m, a]) => (window.coffer as unknown as Record<string, (x: unknown) => Promise<unknown>>)[m as string]!(a), [method, args] as const)) as {
          ok: boolean;
          value?: T;
          error?: { code: string; message: string };
        };
        if (!r.ok) throw new Error(`${method}: ${r.error?.code} ${r.error?.message}`);
        return r.value as T;
      };
      const finished = async (id: number) => {
        await expect
          .poll(async () => (await api<{ status: string }>('showJob', { id })).status, { timeout: 60_000 })
          .toMatch(/^(Completed|CompletedWithWarnings|Failed|Cancelled)$/);
        return api<{ status: string }>('showJob', { id });
      };
      const vmDir = path.join(tmp, 'hypervisor', 'desk');
      mkdirSync(vmDir, { recursive: true });
      const disk = path.join(vmDir, 'app01.img');
      writeFileSync(disk, randomBytes(2 << 20));
      writeFileSync(
        path.join(vmDir, 'app01.xml'),
        `<domain type='kvm'><name>app01</name><uuid>3c3c3c3c-1111-4222-8333-444455556666</uuid><devices><disk type='file' device='disk'><source file='app01.img'/><target dev='vda'/></disk></devices></domain>`,
      );
      await api('addSource', { kind: 'folder', target: path.join(tmp, 'hypervisor'), region: 'office' });
      await finished((await api<{ id: number }>('discoverVms', { vault: 'desk-1' })).id);
      const [vm] = (await api<{ candidates: { id: string }[] }>('discoveryResult', { vault: 'desk-1' })).candidates;
      for (const j of await api<{ id: number }[]>('registerVms', { vault: 'desk-1', vms: [vm!.id] })) await finished(j.id);
      for (const j of await api<{ id: number }[]>('protectVms', { vault: 'desk-1', vms: [vm!.id], policy: 'DefaultPolicy' })) await finished(j.id);
      const [backup] = await api<{ id: number }[]>('backupNow', { vms: [vm!.id] });
      expect((await finished(backup!.id)).status).toBe('Completed');

      await page.evaluate(() => (location.hash = '#/jobs?operation=Backup'));
      await expect.poll(() => page.getByRole('list').getByText('Completed').first().isVisible(), { timeout: 20_000 }).toBe(true);
      await page.evaluate(() => (location.hash = '#/dashboard'));
      await expect.poll(() => page.getByText('Protected', { exact: true }).first().isVisible(), { timeout: 20_000 }).toBe(true);

      const [point] = await api<{ id: string }[]>('listPoints', { vm: vm!.id });
      const target = path.join(tmp, 'restored');
      const restore = await api<{ id: number }>('restorePoint', { vm: vm!.id, pointId: point!.id, mode: 'disks', targetDir: target });
      expect((await finished(restore.id)).status).toBe('Completed');
      expect(readFileSync(path.join(target, 'app01.img')).equals(readFileSync(disk))).toBe(true);
    });

    it('keeps running in the tray when the window closes', { timeout: TIMEOUT }, async () => {
      await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.close());
      await expect.poll(() => app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(0);
      expect(await app.evaluate(({ app: electronApp }) => electronApp.isReady())).toBe(true);
    });
  },
);
