// What the bench scripts share: their command-line values, the bundling of an entry with the
// vault worker into dist/, and adding a case to bench-results.json.
import * as fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const benchRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The value after `--name` on the command line, else `dflt`. */
export function benchArg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

/** Bundles `entries` ({ outName: source }) and the vault worker into dist/<outName>.mjs (or `outdir`). */
export async function bundleWithWorker(entries, outdir = path.join(benchRoot, 'dist')) {
  await esbuild.build({
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
    entryPoints: { ...entries, 'vault-worker': path.join(benchRoot, 'main/core/vault/worker.ts') },
    outdir,
    outExtension: { '.js': '.mjs' },
  });
}

/** Sets `key` of bench-results.json (in the current folder) to `value`, keeping the other cases. */
export function addBenchResult(key, value) {
  const file = path.resolve('bench-results.json');
  const out = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  out[key] = value;
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
}
