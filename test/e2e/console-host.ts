// What every end-to-end test starts: `coffer serve` on a temporary data folder, and Debian's
// Chromium with the flags this closed network needs.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli.mjs');
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
      env: { ...process.env, COFFER_TEST_KDF_N: '1024' },
      stdio: ['ignore', 'pipe', 'pipe'],
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

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
