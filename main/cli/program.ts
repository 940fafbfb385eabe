import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiError, ArgsOf, MethodName, ResultOf } from '../../preload/contract.js';
import { defaultDataDir, Engine } from '../core/engine.js';
import { CofferError, toApiError } from '../core/errors.js';
import { startConsoleServer } from '../host/server.js';
import { createRouter, type Router } from '../rpc/router.js';
import { formatBytes, printTable } from './format.js';
import { readPassphrase } from './passphrase.js';

/** Streams the CLI writes to; tests pass their own. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** A failed operation: exit 1 with the error code on stderr. */
class OperationFailed extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

/**
 * Runs one `coffer` command line and returns the exit code: 0 ok, 2 usage, 1 operation failed.
 * Long-running commands (serve) resolve only when they stop.
 */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  let engine: Engine | undefined;
  let router: Router | undefined;
  const program = new Command();

  const session = (face: 'cli' | 'browser' = 'cli'): { engine: Engine; router: Router } => {
    if (!engine) {
      const { dataDir } = program.opts<{ dataDir?: string }>();
      engine = Engine.open({ dataDir: dataDir ?? defaultDataDir() });
    }
    router ??= createRouter(engine, face);
    return { engine, router };
  };

  const call = async <M extends MethodName>(method: M, args: ArgsOf<M>): Promise<ResultOf<M>> => {
    const result = await session().router.call(method, args);
    if (!result.ok) throw new OperationFailed(result.error);
    return result.value as ResultOf<M>;
  };

  const print = (value: unknown, json: boolean | undefined, human: () => void): void => {
    if (json) io.out(`${JSON.stringify(value, null, 2)}\n`);
    else human();
  };

  program
    .name('coffer')
    .description('Coffer: encrypted, deduplicated backups of virtual machines into vaults')
    .option('--data-dir <dir>', 'the console data folder (default: COFFER_DATA_DIR or the user data folder)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  const vault = program.command('vault').description('create, list, show and delete vaults');

  vault
    .command('create <name>')
    .description('create a vault in an empty or new folder (passphrase from COFFER_PASSPHRASE, --passphrase-file or a prompt)')
    .requiredOption('--region <region>', 'the region label of the vault (a site or host)')
    .requiredOption('--path <dir>', 'the storage folder: empty or absent')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { region: string; path: string; passphraseFile?: string; json?: boolean }) => {
      const passphrase = await readPassphrase({ file: o.passphraseFile, confirm: true, io });
      const v = await call('createVault', { name, region: o.region, path: path.resolve(o.path), passphrase });
      print(v, o.json, () => io.out(`Vault ${v.name} created in region ${v.region} at ${v.location} (policy DefaultPolicy: daily, keep 30 days).\n`));
    });

  vault
    .command('list')
    .description('list the vaults of this console')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await call('listVaults', {});
      print(list, o.json, () =>
        list.length === 0
          ? io.out('No vaults yet. Create one with `coffer vault create NAME --region R --path DIR`.\n')
          : printTable(
              io.out,
              ['NAME', 'REGION', 'LOCATION', 'REGISTERED', 'KEY'],
              list.map((v) => [v.name, v.region, v.location, String(v.registeredCount), v.unlocked ? 'unlocked' : 'locked']),
            ),
      );
    });

  vault
    .command('show <name>')
    .description('show a vault: region, location, size used, recovery points, policies')
    .option('--json', 'print as JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const v = await call('showVault', { name });
      print(v, o.json, () => {
        io.out(
          [
            `Name:             ${v.name}`,
            `Region:           ${v.region}`,
            `Location:         ${v.location}`,
            `Created:          ${v.created}`,
            `Format version:   ${v.formatVersion}`,
            `Size used:        ${formatBytes(v.usedBytes)}`,
            `Recovery points:  ${v.pointCount}`,
            `Registered VMs:   ${v.registeredCount}`,
            `Policies:         ${v.policies.map((p) => p.name).join(', ')}`,
            '',
          ].join('\n'),
        );
      });
    });

  vault
    .command('delete <name>')
    .description('remove a vault from this console (refused while it has registered VMs)')
    .option('--delete-data', "also delete the vault's storage folder and every backup in it")
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { deleteData?: boolean; json?: boolean }) => {
      const r = await call('deleteVault', { name, deleteData: o.deleteData ?? false });
      print(r, o.json, () =>
        io.out(
          r.dataDeleted
            ? `Vault ${r.name} deleted with its data at ${r.location}.\n`
            : `Vault ${r.name} removed from this console; its data stays at ${r.location}.\n`,
        ),
      );
    });

  program
    .command('serve')
    .description('serve the console on 127.0.0.1 with a random access token')
    .addOption(new Option('--port <port>', 'port to listen on; 0 picks a free one').default(0).argParser(parsePort))
    .action(async (o: { port: number }) => {
      const s = session('browser');
      const server = await startConsoleServer({ engine: s.engine, router: s.router, staticDir: rendererDir(), port: o.port });
      io.out(`Coffer console: ${server.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not errors; everything else commander raises is a usage error.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
    }
    const error = e instanceof OperationFailed ? e.error : toApiError(e);
    io.err(`coffer: ${error.code}: ${error.message}\n  remedy: ${error.remedy}\n`);
    // A value the contract rejects came from the command line: that is a usage error too.
    return error.code === 'InvalidArgument' ? 2 : 1;
  } finally {
    await engine?.close();
  }
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return n;
}

/** dist/renderer beside the bundled CLI (dist/cli.mjs), or the built one when run from sources. */
function rendererDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.join(here, 'renderer'), path.resolve(here, '../../dist/renderer')]) {
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  throw new CofferError('Internal', 'The console is not built (dist/renderer is missing).', undefined, 'Run `npm run build`, then start again.');
}
