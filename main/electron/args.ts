// Command-line options of the desktop app. No electron import: tested in plain Node.

/**
 * `--data-dir DIR` or `--data-dir=DIR` anywhere in argv. Electron's own argv also carries
 * Chromium switches and, in development, the app folder, so we look for the flag rather than
 * at fixed positions.
 */
export function dataDirFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--data-dir') {
      const next = argv[i + 1];
      return next && !next.startsWith('--') ? next : undefined;
    }
    if (arg?.startsWith('--data-dir=')) return arg.slice('--data-dir='.length) || undefined;
  }
  return undefined;
}
