import { defineConfig } from 'vitest/config';

// Projects: `unit` (unit + integration on real files, SQLite, child processes), `e2e` (the console
// in Debian Chromium), `electron` (Playwright's _electron; skips itself where there is no binary).
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    // Root-level globalSetup runs once for all projects (the build), not once per project.
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
          fileParallelism: false,
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
