import { InvalidArgumentError, Option, type Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../core/engine.js';
import { applyDeployment, loadDeployment } from '../../core/deployment.js';
import { linuxPowerSource } from '../../core/power.js';
import { CofferError } from '../../core/errors.js';
import { startHosting } from '../../host/hosting.js';
import { createRouter } from '../../rpc/router.js';
import type { Cli } from '../io.js';

export function serveCommand(program: Command, cli: Cli): void {
  program
    .command('serve')
    .description('serve the console on 127.0.0.1 with a random access token')
    .addOption(new Option('--port <port>', 'port to listen on; 0 picks a free one').default(0).argParser(parsePort))
    .option('--no-scheduler', 'do not run scheduled backups in this host')
    .action(async (o: { port: number; scheduler: boolean }) => {
      // Refused whole before anything opens (the CLI's preAction hook checked it too).
      const deployment = loadDeployment();
      const engine = Engine.open({ dataDir: cli.dataDir() });
      engine.deployment = deployment;
      // A laptop running `coffer serve` defers scheduled backups on battery and (remote vaults) on a metered connection too.
      const powerRoot = process.env.COFFER_POWER_SUPPLY_ROOT ?? '/sys/class/power_supply';
      if (process.platform === 'linux') engine.power = linuxPowerSource(powerRoot);
      if (deployment) {
        const report = await applyDeployment(engine, deployment.config);
        for (const c of report.changes) cli.io.out(`Deployment ${deployment.file}: ${c}\n`);
        for (const p of report.problems) cli.io.err(`Deployment ${deployment.file}: ${p.subject}: ${p.code}: ${p.message}\n`);
      }
      const router = createRouter(engine, 'cli');
      cli.useSession({ invoke: router.invoke, waitJob: (id) => engine.jobs.wait(id), remote: false, close: () => engine.close() });
      const hosting = await startHosting({ engine, staticDir: rendererDir(), port: o.port, scheduler: o.scheduler });
      cli.io.out(`Coffer console: ${hosting.server.url}\n`);
      await new Promise<void>((resolve) => {
        // Tests only (COFFER_TEST_EXIT_WITH_STDIN=1): the host also stops when the test process that
        // started it is gone, which closes its end of stdin, and leaves at the latest 30 s later.
        const watchStdin = process.env.COFFER_TEST_EXIT_WITH_STDIN === '1';
        let stopping = false;
        const stop = (): void => {
          if (stopping) return;
          stopping = true;
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          if (watchStdin) process.stdin.destroy();
          void hosting.stop().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        if (watchStdin) {
          const orphaned = (): void => {
            setTimeout(() => process.exit(1), 30_000).unref();
            stop();
          };
          process.stdin.on('end', orphaned);
          process.stdin.on('error', orphaned);
          process.stdin.resume();
        }
      });
    });
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return n;
}

/** dist/renderer beside the bundled CLI (dist/cli.mjs), or the built one when run from sources. */
function rendererDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.join(here, 'renderer'), path.resolve(here, '../../dist/renderer'), path.resolve(here, '../../../dist/renderer')]) {
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  throw new CofferError('Internal', 'The console is not built (dist/renderer is missing).', undefined, 'Run `npm run build`, then start again.');
}
