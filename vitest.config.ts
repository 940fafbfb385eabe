import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

// Projects: `unit` (unit + integration on real files, SQLite, child processes), `e2e` (the console
// in Debian Chromium), `electron` (Playwright's _electron; skips itself where there is no binary).
//
// All three share one pool of WORKERS test files at a time, so the end-to-end files run beside the
// unit files instead of after them. That asks of every file that it runs beside any other: its own
// temporary folder and data folder, servers on port 0, libvirt names with a random part, and
// waits for the state it needs (a job's end), never for a time. Vitest runs projects with
// different maxWorkers (or fileParallelism: false) one after another: keep them equal.
// Most test time is spent waiting on child processes (coffer serve, Chromium, qemu), so on the two
// cores of CI three files at a time keep both busy; COFFER_TEST_WORKERS overrides it.
const WORKERS = Number(process.env.COFFER_TEST_WORKERS) || 3;

/**
 * The files that take longest (measured: `npx vitest run --reporter=json`) start first, so none of
 * them is left running alone at the end; the others follow in Vitest's own order.
 */
const SLOW_FIRST = [
  'test/integration/host-package.test.ts',
  'test/integration/restore-test.test.ts',
  'test/integration/concurrent-installs.test.ts',
  'test/e2e/connect.test.ts',
  'test/e2e/walkthrough.test.ts',
  'test/e2e/restore-extras.test.ts',
  'test/e2e/admin-look.test.ts',
  'test/e2e/admin-unlock.test.ts',
];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((p) => f.moduleId.endsWith(`/${p}`));
      return i === -1 ? SLOW_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    // Root-level globalSetup runs once for all projects (the build), not once per project.
    maxWorkers: WORKERS,
    sequence: { sequencer: SlowFirst },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          env: { COFFER_TEST_KDF_N: '1024' },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          env: { COFFER_TEST_KDF_N: '1024' },
        },
      },
      {
        test: {
          name: 'electron',
          include: ['test/electron/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
