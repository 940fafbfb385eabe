#!/usr/bin/env -S node --single-threaded-gc
// The `coffer` command: the bundled CLI, built on first use when run from a fresh clone. The V8
// flags on the first line are scripts/node-flags.mjs's (why there).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = new URL('../dist/cli.mjs', import.meta.url);
if (!existsSync(cli)) {
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    process.stderr.write('coffer: the build failed; run `npm run build` in the Coffer folder.\n');
    process.exit(1);
  }
}
await import(cli.href);
