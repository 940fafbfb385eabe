// Writes docs/deployment.schema.json from the zod schema (main/core/deployment-schema.ts), the one
// home of the deployment file's rules. test/unit/deployment.test.ts fails when the two differ.
//   node scripts/deployment-schema.mjs           write it
//   node scripts/deployment-schema.mjs --check   exit 1 when the committed file is stale
import * as esbuild from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = path.join(root, 'docs/deployment.schema.json');
const dir = mkdtempSync(path.join(tmpdir(), 'coffer-schema-'));
try {
  const out = path.join(dir, 'schema.mjs');
  await esbuild.build({ entryPoints: [path.join(root, 'main/core/deployment-schema.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, packages: 'external', logLevel: 'warning', absWorkingDir: root, nodePaths: [path.join(root, 'node_modules')] });
  // The bundle lives outside the repo: resolve zod from the repo's node_modules.
  writeFileSync(out, readFileSync(out, 'utf8').replaceAll('from "zod"', `from ${JSON.stringify(pathToFileURL(path.join(root, 'node_modules/zod/index.js')).href)}`));
  const { deploymentJsonSchema } = await import(pathToFileURL(out).href);
  const text = `${JSON.stringify(deploymentJsonSchema(), null, 2)}\n`;
  if (process.argv.includes('--check')) {
    const same = readFileSync(target, 'utf8') === text;
    console.log(same ? 'docs/deployment.schema.json is current' : 'docs/deployment.schema.json is stale: run `npm run deployment-schema`');
    process.exitCode = same ? 0 : 1;
  } else {
    writeFileSync(target, text);
    console.log(`wrote ${path.relative(root, target)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
