// `npm start`: install and build whatever is missing, then open the desktop app where the
// Electron runtime exists, or else serve the browser console on loopback.
// Arguments after `npm start --` go to the app, e.g. `npm start -- --data-dir /tmp/coffer`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ELECTRON_FLAGS, NODE_FLAGS } from './node-flags.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const at = (...p) => path.join(root, ...p);
const args = process.argv.slice(2);

function run(command, commandArgs, what) {
  const r = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' && command === 'npm' });
  if (r.status !== 0) {
    console.error(`${what} failed; see the output above.`);
    process.exit(r.status ?? 1);
  }
}

if (!existsSync(at('node_modules'))) {
  console.log('Installing the npm packages first (npm install)...');
  // Under `npm start`, npm_execpath is npm's own script: the same npm the user is running.
  const npmCli = process.env.npm_execpath;
  if (npmCli && npmCli.endsWith('.js')) run(process.execPath, [npmCli, 'install'], 'npm install');
  else run('npm', ['install'], 'npm install');
}

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Every output `npm start` may run; the oldest of them must be newer than every source. */
const electronMain = JSON.parse(readFileSync(at('package.json'), 'utf8')).main ?? 'dist/electron/main.mjs';
const outputs = ['dist/cli.mjs', electronMain, 'dist/electron/preload.cjs', 'dist/renderer/index.html', 'dist/renderer/app.js'];
function buildIsStale() {
  if (!outputs.every((o) => existsSync(at(o)))) return true;
  const oldestOutput = Math.min(...outputs.map((o) => statSync(at(o)).mtimeMs));
  const newestSource = Math.max(
    ...['main', 'preload', 'renderer'].map((d) => newestMtime(at(d))),
    statSync(at('scripts/build.mjs')).mtimeMs,
  );
  return newestSource > oldestOutput;
}
if (buildIsStale()) run(process.execPath, [at('scripts/build.mjs')], 'The build');

/** The Electron binary, or the reason the desktop app cannot open here. */
function electronBinary() {
  let binary;
  try {
    // The electron package exports the path of its binary, and throws when it was never fetched.
    binary = createRequire(import.meta.url)('electron');
  } catch {
    return { reason: 'Electron runtime not installed' };
  }
  if (typeof binary !== 'string' || !existsSync(binary)) return { reason: 'Electron runtime not installed' };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { reason: 'No desktop display (DISPLAY or WAYLAND_DISPLAY) found' };
  }
  return { binary };
}

/** The CLI wants its global options before the command: `coffer --data-dir D serve --port N`. */
function serveArgs(forwarded) {
  const globals = [];
  const rest = [];
  for (let i = 0; i < forwarded.length; i++) {
    const arg = forwarded[i];
    if (arg === '--data-dir' && i + 1 < forwarded.length) globals.push(arg, forwarded[++i]);
    else if (arg.startsWith('--data-dir=')) globals.push(arg);
    else rest.push(arg);
  }
  return [at('dist/cli.mjs'), ...globals, 'serve', ...rest];
}

const electron = electronBinary();
let child;
// The child gets its own process group so that Ctrl+C reaches it once, through us, and Electron
// is not killed by a second SIGINT in the middle of closing the catalog.
const detached = process.platform !== 'win32';
if (electron.binary) {
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE; // would turn the app into a plain Node process
  child = spawn(electron.binary, [...ELECTRON_FLAGS, root, ...args], { cwd: root, stdio: 'inherit', env, detached });
} else {
  console.log(`${electron.reason}; serving the browser console instead`);
  child = spawn(process.execPath, [...NODE_FLAGS, ...serveArgs(args)], { cwd: root, stdio: 'inherit', detached });
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal);
  });
}
child.on('error', (e) => {
  console.error(`Coffer could not start: ${e.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal === 'SIGINT' ? 130 : 1));
});
