// Every launcher of Coffer's engine starts its runtime with scripts/node-flags.mjs's V8 flags
// (why: there). The host package's unit is also run as-is in host-package.test.ts.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ELECTRON_FLAGS, NODE_FLAGS } from '../../scripts/node-flags.mjs';
import { repoRoot } from '../helpers/tmp.js';

const read = (p: string) => fs.readFileSync(path.join(repoRoot, p), 'utf8');
const flags = NODE_FLAGS.join(' ');

describe('the V8 flags of the engine', () => {
  it('are flags this Node accepts (an unknown one stops node at its start)', () => {
    const ok = spawnSync(process.execPath, [...NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    const bad = spawnSync(process.execPath, ['--no-such-v8-flag-at-all', '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
  });

  it("are on bin/coffer.mjs's first line, and the command runs through it as a program", () => {
    expect(read('bin/coffer.mjs').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
    // Run as an executable (the kernel reads the shebang, env -S splits it), as npm links it.
    const r = spawnSync(path.join(repoRoot, 'bin/coffer.mjs'), ['help'], { encoding: 'utf8', env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: coffer');
  });

  it("are in the host package's coffer command and service", () => {
    expect(read('packaging/host/coffer.sh')).toContain(`exec /usr/bin/node ${flags} /usr/lib/coffer/dist/cli.mjs "$@"`);
    expect(read('packaging/host/coffer.service')).toContain(`ExecStart=/usr/bin/node ${flags} /usr/lib/coffer/dist/cli.mjs serve`);
  });

  it("are the desktop app's --js-flags on Linux's .desktop entry", () => {
    const config = load(read('electron-builder.yml')) as { linux: { executableArgs?: string[] } };
    expect(config.linux.executableArgs).toEqual([...ELECTRON_FLAGS]);
    expect(ELECTRON_FLAGS).toEqual([`--js-flags=${flags}`]);
  });
});
