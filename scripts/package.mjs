// `npm run package`: the desktop installers with electron-builder, offline. It never downloads
// Electron: COFFER_ELECTRON_DIST must name an unpacked Electron of the version in package.json
// (electron-builder's electronDist). Without one it stops at once with one line saying so.
//   COFFER_ELECTRON_DIST=/srv/electron/electron-v41.7.1-linux-x64 npm run package [-- --linux deb]
// Tool-based targets (AppImage, rpm, nsis, msi, dmg) also need electron-builder's tools in its
// cache (ELECTRON_BUILDER_CACHE, filled once on a machine with access to them), or fpm on PATH
// for deb/rpm (USE_SYSTEM_FPM is set when it is there).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const wanted = pkg.devDependencies.electron;
const dist = process.env.COFFER_ELECTRON_DIST;
const binaries = { linux: 'electron', win32: 'electron.exe', darwin: 'Electron.app' };

function stop(line) {
  console.error(line);
  process.exit(2);
}

if (!dist) stop(`npm run package needs a local Electron ${wanted}: set COFFER_ELECTRON_DIST to an unpacked electron-v${wanted}-${process.platform}-${process.arch} folder; nothing was downloaded.`);
const binary = path.join(path.resolve(dist), binaries[process.platform] ?? 'electron');
if (!existsSync(binary)) stop(`npm run package: COFFER_ELECTRON_DIST=${dist} holds no ${path.basename(binary)}; give an unpacked electron-v${wanted}-${process.platform}-${process.arch} folder.`);
const versionFile = path.join(path.resolve(dist), 'version');
const version = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim().replace(/^v/, '') : null;
if (version !== wanted) stop(`npm run package: COFFER_ELECTRON_DIST=${dist} is Electron ${version ?? '(no version file)'}, Coffer needs ${wanted} (package.json).`);

const build = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const hasFpm = spawnSync('sh', ['-c', 'command -v fpm'], { stdio: 'ignore' }).status === 0;
const r = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules/electron-builder/cli.js'), '--config', 'electron-builder.yml', `-c.electronDist=${path.resolve(dist)}`, `-c.electronVersion=${wanted}`, '--publish', 'never', ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit', env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1', ...(hasFpm ? { USE_SYSTEM_FPM: 'true' } : {}) } },
);
process.exit(r.status ?? 1);
