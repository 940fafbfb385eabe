import * as esbuild from 'esbuild';

/**
 * Bundles a test's child-process entry (a fixture that runs the engine in a process of its own)
 * into `outfile`, one ESM file with the packages left external: the way every test that spawns
 * such a child builds it.
 */
export async function bundleChild(entry: string, outfile: string): Promise<void> {
  await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'warning' });
}
