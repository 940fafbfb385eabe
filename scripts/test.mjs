// `npm test`: installs what is missing, then typecheck, lint (with the layering rules) and every
// vitest project (unit + integration, end-to-end in Chromium, Electron where its binary exists).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (cmd, args, opts = {}) => {
  console.log(`\n> ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  return r.status ?? 1;
};
const must = (cmd, args) => {
  const code = run(cmd, args);
  if (code !== 0) process.exit(code);
};

if (!existsSync(`${root}/node_modules/.package-lock.json`)) must('npm', ['ci']);
ensureDebianPackages();
must('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']);
must('npx', ['eslint', '.']);
must('npx', ['vitest', 'run', ...process.argv.slice(2)]);

/** Tools the tests drive for real; installed through apt where we are root on Debian/Ubuntu. */
function ensureDebianPackages() {
  const needed = [
    ['chromium', '/usr/bin/chromium'],
    ['qemu-utils', '/usr/bin/qemu-img'],
    ['libvirt-clients', '/usr/bin/virsh'],
    ['e2fsprogs', '/usr/sbin/mke2fs'],
  ].filter(([, bin]) => !existsSync(bin));
  if (needed.length === 0) return;
  const names = needed.map(([pkg]) => pkg);
  const isRoot = process.getuid?.() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (run('apt-get', ['update', '-qq'], { env }) === 0 && run('apt-get', ['install', '-y', '-qq', ...names], { env }) === 0) return;
  }
  console.error(`Coffer's tests need these Debian packages: ${names.join(' ')}. Install them (as root: apt-get install -y ${names.join(' ')}) and run npm test again.`);
  process.exit(1);
}
