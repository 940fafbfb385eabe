// What every end-to-end test starts: `coffer serve` on a temporary data folder, and Debian's
// Chromium with the flags this closed network needs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';
import type { CofferApi, Job, Result } from '../../preload/contract.js';
import { HOST_STOP_GRACE_MS, stopChild } from '../helpers/processes.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli.mjs');
const AXE = path.join(ROOT, 'node_modules/axe-core/axe.min.js');
export const CHROMIUM = process.env.COFFER_CHROMIUM ?? '/usr/bin/chromium';

export interface ConsoleHost {
  /** `http://127.0.0.1:PORT/#token=TOKEN`, as the server printed it. */
  url: string;
  child: ChildProcess;
  /** Everything the server printed so far (for error messages). */
  output: () => string;
}

/** Starts `coffer serve --port 0` and resolves with the console URL it prints. */
export function startConsole(dataDir: string, extraArgs: string[] = []): Promise<ConsoleHost> {
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn(process.execPath, [CLI, '--data-dir', dataDir, 'serve', '--port', '0', ...extraArgs], {
      cwd: ROOT,
      // stdin stays open while this process lives: the host stops by itself when it closes.
      env: { ...process.env, COFFER_TEST_KDF_N: '1024', COFFER_TEST_EXIT_WITH_STDIN: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => reject(new Error(`coffer serve printed no URL within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Coffer console: (http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ url: m[1], child, output: () => output });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`coffer serve exited with ${code}:\n${output}`));
    });
  });
}

/**
 * Stops a `coffer serve` (SIGTERM) and waits until it has exited: its data folder can go then.
 * A host still there 30 s after SIGTERM is killed and fails the caller (a host that does not stop
 * is a bug: it outlived the test run before).
 */
export async function stopConsole(child: ChildProcess | undefined): Promise<void> {
  const stopped = await stopChild(child, HOST_STOP_GRACE_MS);
  if (stopped?.killed) throw new Error(`coffer serve (pid ${child!.pid}) did not exit within ${HOST_STOP_GRACE_MS / 1000} s of SIGTERM and was killed`);
}

/** Until the first match is visible (a Playwright wait: usable in beforeAll, unlike expect.poll). */
export const visible = (l: Locator, timeout = 30_000): Promise<void> => l.first().waitFor({ state: 'visible', timeout });

/**
 * What the e2e files do on the console page: engine calls through the page's own window.coffer
 * (set-up steps that are not under test), going to a view, switching language, axe in both themes.
 * `page` is a getter: files open their page in beforeAll.
 */
export function consolePage(page: () => Page) {
  async function api<M extends keyof CofferApi>(method: M, args: unknown): Promise<unknown> {
    const r = (await page().evaluate(([m, a]) => (window as unknown as { coffer: Record<string, (x: unknown) => Promise<unknown>> }).coffer[m as string]!(a), [method, args] as const)) as Result<unknown>;
    if (!r.ok) throw new Error(`${String(method)}: ${r.error.code}: ${r.error.message}`);
    return r.value;
  }
  /**
   * The job once it has ended (polled in the page, bounded), whatever its status. No expect.poll:
   * files call this from beforeAll too, where Vitest refuses it.
   */
  async function ended(job: Pick<Job, 'id'>, timeout = 120_000): Promise<Job> {
    const last = await page().evaluate(
      async ([id, ms]) => {
        const coffer = (window as unknown as { coffer: { showJob: (a: { id: number }) => Promise<{ ok: boolean; value?: { endedAt: unknown } }> } }).coffer;
        const until = Date.now() + ms;
        for (;;) {
          const r = await coffer.showJob({ id });
          if ((r.ok && r.value!.endedAt !== null) || Date.now() > until) return r;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      },
      [job.id, timeout] as const,
    );
    if (!last.ok || last.value!.endedAt === null) throw new Error(`job ${job.id} did not end within ${timeout} ms: ${JSON.stringify(last)}`);
    return last.value as unknown as Job;
  }
  /** Runs the call's jobs to their end; fails unless each Completed. */
  async function completed(jobs: unknown): Promise<Job[]> {
    const done: Job[] = [];
    for (const j of jobs as Job[]) {
      const e = await ended(j);
      expect(e.status, JSON.stringify(e.error)).toBe('Completed');
      done.push(e);
    }
    return done;
  }
  /** To the view at `hash`, once its page heading (that heading, when given) shows. */
  async function go(hash: string, heading?: string | RegExp): Promise<void> {
    await page().evaluate((h) => (window.location.hash = h), hash);
    await visible(heading === undefined ? page().locator('h1#page-title') : page().getByRole('heading', { level: 1, name: heading }));
  }
  async function useLanguage(lang: 'en' | 'nl'): Promise<void> {
    await page().evaluate((l) => localStorage.setItem('coffer.locale', l), lang);
    await page().reload();
    await page().locator('h1#page-title').waitFor({ timeout: 20_000 });
  }
  /**
   * Until the console wears the theme (Fluent's background token) and no finite animation or
   * transition runs (a toast fading in, colours changing theme): what axe measures is then what stays.
   */
  async function settled(theme: 'light' | 'dark'): Promise<void> {
    await page().waitForFunction(
      (dark) => {
        const root = document.querySelector('.fui-FluentProvider');
        if (!root) return false;
        const bg = getComputedStyle(root).getPropertyValue('--colorNeutralBackground1').trim().toLowerCase();
        if ((bg === '#ffffff') === dark) return false;
        return document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getComputedTiming().iterations === Infinity);
      },
      theme === 'dark',
      { timeout: 20_000, polling: 100 },
    );
  }
  /** axe on the page now, light and dark (back to light after). */
  async function axeBothThemes(where: string): Promise<string[]> {
    const problems: string[] = [];
    for (const theme of ['light', 'dark'] as const) {
      await page().emulateMedia({ colorScheme: theme });
      await settled(theme);
      problems.push(...(await axeProblems(page(), `${where} ${theme}`)));
    }
    await page().emulateMedia({ colorScheme: 'light' });
    return problems;
  }
  const dialog = () => page().getByRole('dialog');
  /** The table rows holding every one of the texts. */
  const row = (...texts: string[]) => texts.reduce((l, text) => l.filter({ hasText: text }), page().getByRole('row'));
  return { api, ended, completed, go, useLanguage, settled, axeBothThemes, dialog, row };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** The serious and critical axe-core violations on the page now, one line each (`where` names the view). */
export async function axeProblems(page: Page, where: string): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  // Colours measured mid-transition (a theme switch, a dialog's entrance) are neither theme's: a
  // contrast finding counts only if it is still there once the page's finite animations have ended.
  let problems: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    await settledAnimations(page);
    problems = await axeOnce(page, where);
    if (!problems.some((p) => p.includes(': color-contrast '))) break;
  }
  return problems;
}

/** Two frames (a style change has started its transitions), then until every finite animation has ended. */
async function settledAnimations(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const finite = document.getAnimations().filter((a) => a.effect?.getComputedTiming().endTime !== Infinity);
    await Promise.allSettled(finite.map((a) => a.finished));
  });
}

async function axeOnce(page: Page, where: string): Promise<string[]> {
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx?: unknown, opts?: unknown) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    // Tabster's focus sentinels (data-tabster-dummy) are aria-hidden and focusable by design: they hand focus on.
    const r = await axe.run({ exclude: [['[data-tabster-dummy]']] }, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${where}: ${v.id} (${v.impact}) ${v.help} at ${v.targets.join(' | ')}`);
}

/** A libvirt VM as a folder source holds it: domain XML, a raw disk with data and holes, a qcow2 disk. */
export function makeVm(dir: string, name: string, uuid: string, mib: number): { raw: string; qcow: string } {
  fs.mkdirSync(dir, { recursive: true });
  const raw = path.join(dir, `${name}.img`);
  const fd = fs.openSync(raw, 'w');
  for (let i = 0; i < mib; i++) if (i % 3 !== 2) fs.writeSync(fd, randomBytes(1 << 20), 0, 1 << 20, i << 20);
  fs.ftruncateSync(fd, mib << 20);
  fs.closeSync(fd);
  const qcow = path.join(dir, `${name}-data.qcow2`);
  const made = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', qcow, '64M']);
  if (made.status !== 0) throw new Error(`qemu-img create failed: ${made.stderr?.toString() ?? ''}`);
  fs.writeFileSync(
    path.join(dir, `${name}.xml`),
    `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>512</memory>
      <devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${name}.img'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${name}-data.qcow2'/><target dev='vdb' bus='virtio'/></disk>
      </devices></domain>`,
  );
  return { raw, qcow };
}

export const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
