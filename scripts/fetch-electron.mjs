// postinstall: fetch the Electron runtime if we can, and never fail the install if we cannot.
// Electron's own postinstall is disabled (package.json allowScripts) because on a machine that
// reaches only the npm registry it fails the whole `npm ci`. Here we run the same download with a
// hard time limit; without the runtime, `npm start` serves the browser console instead.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const electronDir = path.join(root, 'node_modules', 'electron');
const TIMEOUT_MS = Number(process.env.COFFER_ELECTRON_FETCH_TIMEOUT_MS) || 60_000;

function runtimePresent() {
  try {
    const relative = readFileSync(path.join(electronDir, 'path.txt'), 'utf8').trim();
    return relative !== '' && existsSync(path.join(electronDir, 'dist', relative));
  } catch {
    return false;
  }
}

function giveUp(reason) {
  console.log(`Electron runtime not downloaded: ${reason}; \`npm start\` will serve the browser console`);
  process.exit(0);
}

/** The first error message in the installer's output, short enough for one line. */
function reasonFrom(output, code) {
  const line = output
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^(\w*Error|HTTPError|RequestError)\b.*:/.test(l) || /\bE[A-Z]{3,}\b/.test(l));
  const message = line ? line.replace(/^\w*Error:\s*/, '') : `the installer exited with code ${code}`;
  return message.length > 120 ? `${message.slice(0, 117)}...` : message;
}

function killTree(child) {
  if (process.platform === 'win32') {
    spawnSync('taskkill', ['/pid', String(child.pid), '/T', '/F'], { stdio: 'ignore' });
  } else {
    try {
      process.kill(-child.pid, 'SIGKILL'); // the whole process group started below
    } catch {
      child.kill('SIGKILL');
    }
  }
}

if (runtimePresent()) process.exit(0);
if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) giveUp('ELECTRON_SKIP_BINARY_DOWNLOAD is set');
if (!existsSync(path.join(electronDir, 'install.js'))) giveUp('the electron package is not installed');

const child = spawn(process.execPath, ['install.js'], {
  cwd: electronDir,
  // Its own process group, so a timeout can end the downloader and anything it started.
  detached: process.platform !== 'win32',
  stdio: ['ignore', 'pipe', 'pipe'],
  windowsHide: true,
});
let output = '';
child.stdout.on('data', (d) => (output += d));
child.stderr.on('data', (d) => (output += d));

let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  killTree(child);
}, TIMEOUT_MS);

child.on('error', (e) => {
  clearTimeout(timer);
  giveUp(`the installer could not start (${e.message})`);
});
child.on('close', (code) => {
  clearTimeout(timer);
  if (timedOut) giveUp(`no download within ${Math.round(TIMEOUT_MS / 1000)} s`);
  if (code === 0 && runtimePresent()) process.exit(0);
  giveUp(reasonFrom(output, code));
});
