// `npm run package:host`: the Debian package of a headless Coffer host, built offline with
// dpkg-deb: the CLI and `coffer serve` (esbuild, as scripts/build.mjs), the console, the runtime
// packages they import with their native modules (built for this Node), a hardened systemd unit,
// the coffer system user (postinst) and /etc/coffer. Output: release/coffer-host_VERSION_ARCH.deb.
//
// Node runtime: declared, not bundled: Depends: nodejs (>= 20.19), nodejs (<< NEXT_MAJOR).
// better-sqlite3 is a native module bound to Node's ABI (NODE_MODULE_VERSION) of the Node that
// built it here, so the package pins that Node major; the distribution (or NodeSource) keeps the
// runtime patched, which a bundled copy would not be.
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const at = (p) => path.join(root, p);
const pkg = JSON.parse(readFileSync(at('package.json'), 'utf8'));
const outDir = path.resolve(process.env.COFFER_PACKAGE_OUT ?? at('release'));

const need = (tool) => {
  if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
    console.error(`package:host needs ${tool} (Debian: apt-get install dpkg-dev); nothing was built.`);
    process.exit(2);
  }
};
need('dpkg-deb');
need('dpkg');

const arch = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim();
const nodeMajor = Number(process.versions.node.split('.')[0]);
const stage = path.join(outDir, 'coffer-host-stage');
rmSync(stage, { recursive: true, force: true });
const lib = path.join(stage, 'usr/lib/coffer');
mkdirSync(lib, { recursive: true });

// 1. The console (renderer) and the bundles, built like scripts/build.mjs. COFFER_SKIP_BUILD=1 takes
// the dist/ there is (the test suite built it once and other tests run from it while this runs).
if (process.env.COFFER_SKIP_BUILD !== '1' || !existsSync(at('dist/renderer/index.html'))) {
  const build = spawnSync(process.execPath, [at('scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
cpSync(at('dist/renderer'), path.join(lib, 'dist/renderer'), { recursive: true, filter: (f) => !f.endsWith('.map') });
const entries = { cli: at('main/cli/index.ts'), 'vault-worker': at('main/core/vault/worker.ts') };
const result = await esbuild.build({
  entryPoints: entries,
  bundle: true,
  platform: 'node',
  target: `node${nodeMajor}`,
  format: 'esm',
  packages: 'external',
  // The repository's layout (dist/ beside node_modules): the worker pool finds dist/vault-worker.mjs beside the CLI.
  outdir: path.join(lib, 'dist'),
  outExtension: { '.js': '.mjs' },
  metafile: true,
  logLevel: 'warning',
});

// 2. The packages those bundles import, with everything they depend on (native builds included).
const packageName = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
const imported = new Set();
for (const output of Object.values(result.metafile.outputs)) {
  for (const imp of output.imports) if (imp.external && !imp.path.startsWith('node:') && !isBuiltin(imp.path)) imported.add(packageName(imp.path));
}
function isBuiltin(p) {
  return builtinModules.includes(p.split('/')[0]);
}
/** The folder of a package as Node resolves it from `fromDir`. */
function packageDir(name, fromDir) {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}
const copied = new Set();
function copyPackage(name, fromDir, optional) {
  const src = packageDir(name, fromDir);
  if (!src) {
    if (optional) return;
    throw new Error(`package:host: ${name} is not installed (run npm ci)`);
  }
  if (copied.has(src)) return;
  copied.add(src);
  const rel = path.relative(root, src);
  cpSync(src, path.join(lib, rel), {
    recursive: true,
    dereference: true,
    // Tests, docs, the SQLite sources and build intermediates are not needed at run time.
    filter: (f) => {
      const parts = path.relative(src, f).split(path.sep);
      if (['test', 'tests', 'docs', '.github'].includes(parts[0])) return false;
      if (name === 'better-sqlite3' && ['deps', 'src'].includes(parts[0])) return false;
      if (parts.includes('obj') && parts.includes('build')) return false;
      return !f.endsWith('.map');
    },
  });
  const manifest = JSON.parse(readFileSync(path.join(src, 'package.json'), 'utf8'));
  for (const dep of Object.keys(manifest.dependencies ?? {})) copyPackage(dep, src, false);
  for (const dep of Object.keys(manifest.optionalDependencies ?? {})) copyPackage(dep, src, true);
}
for (const name of [...imported].sort()) copyPackage(name, root, false);
// The package.json beside the bundles makes them ESM and names the version (engineInfo).
writeFileSync(path.join(lib, 'package.json'), `${JSON.stringify({ name: 'coffer-host', version: pkg.version, type: 'module', private: true }, null, 2)}\n`);

// 3. The command, the unit, the configuration and the documentation.
const put = (from, to, mode) => {
  const dest = path.join(stage, to);
  mkdirSync(path.dirname(dest), { recursive: true });
  cpSync(at(from), dest);
  chmodSync(dest, mode);
};
put('packaging/host/coffer.sh', 'usr/bin/coffer', 0o755);
put('packaging/host/coffer.service', 'lib/systemd/system/coffer.service', 0o644);
put('packaging/host/coffer.env', 'etc/coffer/coffer.env', 0o640);
put('packaging/host/deployment.example.json', 'usr/share/doc/coffer/deployment.example.json', 0o644);
put('docs/deployment.schema.json', 'usr/share/doc/coffer/deployment.schema.json', 0o644);
put('packaging/host/README.host.md', 'usr/share/doc/coffer/README.host.md', 0o644);
for (const script of ['postinst', 'prerm', 'postrm']) put(`packaging/host/debian/${script}`, `DEBIAN/${script}`, 0o755);
writeFileSync(path.join(stage, 'DEBIAN/conffiles'), '/etc/coffer/coffer.env\n');

const installedKb = Math.ceil(du(path.join(stage)) / 1024);
function du(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((a, n) => a + du(path.join(p, n)), 0);
}
writeFileSync(
  path.join(stage, 'DEBIAN/control'),
  [
    'Package: coffer-host',
    `Version: ${pkg.version}`,
    `Architecture: ${arch}`,
    'Maintainer: Coffer contributors <coffer@localhost>',
    `Installed-Size: ${installedKb}`,
    `Depends: nodejs (>= 20.19), nodejs (<< ${nodeMajor + 1}), passwd`,
    'Suggests: libvirt-daemon-system',
    'Section: admin',
    'Priority: optional',
    'Homepage: https://coffer.invalid/',
    'Description: Coffer backup host: encrypted, deduplicated VM backups (headless)',
    ' The coffer CLI and `coffer serve` as a hardened systemd service (coffer.service)',
    ' running scheduled backups of virtual machines into vaults, with the console on',
    ` 127.0.0.1. Native modules are built for Node.js ${nodeMajor} (ABI ${process.versions.modules}).`,
    '',
  ].join('\n'),
);

mkdirSync(outDir, { recursive: true });
const deb = path.join(outDir, `coffer-host_${pkg.version}_${arch}.deb`);
const r = spawnSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
if (r.status !== 0) process.exit(r.status ?? 1);
rmSync(stage, { recursive: true, force: true });
console.log(deb);
