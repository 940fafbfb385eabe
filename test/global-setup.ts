import { spawnSync } from 'node:child_process';

/** The CLI, the worker pool and the console run from dist/: build once before any test. */
export default function setup(): void {
  if (process.env.COFFER_SKIP_BUILD === '1') return;
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('the build failed; see the output above');
}
