import { Command, CommanderError } from 'commander';
import * as path from 'node:path';
import type { ApiError, Job } from '../../preload/contract.js';
import { defaultDataDir, Engine } from '../core/engine.js';
import { toApiError } from '../core/errors.js';
import { loadDeployment } from '../core/deployment.js';
import { readHostFile } from '../host/host-file.js';
import { createRouter } from '../rpc/router.js';
import { backupCommands } from './commands/backup.js';
import { dashboardCommand } from './commands/dashboard.js';
import { filesCommands } from './commands/files.js';
import { deploymentCommands } from './commands/deployment.js';
import { jobCommands } from './commands/job.js';
import { policyCommands } from './commands/policy.js';
import { protectionCommands } from './commands/protection.js';
import { serveCommand } from './commands/serve.js';
import { sourceCommands } from './commands/source.js';
import { vaultCommands } from './commands/vault.js';
import { vmCommands } from './commands/vm.js';
import { describeJob, formatError, OperationFailed, processIo, type Cli, type CliIo, type Session } from './io.js';
import { findPassphrase } from './passphrase.js';
import { RemoteEngine } from './remote.js';

export type { CliIo } from './io.js';

/**
 * Runs one `coffer` command line and returns the exit code: 0 ok, 2 usage, 1 operation failed.
 * Long-running commands (serve) resolve only when they stop. Commands live in ./commands/<noun>.ts;
 * they parse, call the API and print.
 */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  let current: Session | undefined;
  const program = new Command();
  const cli = createCli(io, () => path.resolve(program.opts<{ dataDir?: string }>().dataDir ?? defaultDataDir()), {
    get: () => current,
    set: (s) => (current = s),
  });

  program
    .name('coffer')
    .description('Coffer: encrypted, deduplicated backups of virtual machines into vaults')
    .option('--data-dir <dir>', 'the console data folder (default: COFFER_DATA_DIR or the user data folder)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    // Every command refuses to run on a machine whose deployment file is invalid (DeploymentFileInvalid).
    .hook('preAction', () => void loadDeployment());

  vaultCommands(program, cli);
  sourceCommands(program, cli);
  vmCommands(program, cli);
  jobCommands(program, cli);
  policyCommands(program, cli);
  protectionCommands(program, cli);
  backupCommands(program, cli);
  filesCommands(program, cli);
  dashboardCommand(program, cli);
  serveCommand(program, cli);
  deploymentCommands(program, cli);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not errors; everything else commander raises is a usage error.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
    }
    const error = e instanceof OperationFailed ? e.error : toApiError(e);
    io.err(formatError(error));
    // A value the contract rejects came from the command line: that is a usage error too.
    return error.code === 'InvalidArgument' ? 2 : 1;
  } finally {
    await current?.close();
  }
}

function createCli(io: CliIo, dataDir: () => string, slot: { get: () => Session | undefined; set: (s: Session) => void }): Cli {
  /**
   * A running host (desktop app or `coffer serve`) on the same data folder gets the call, so its
   * scheduler, job log and open vaults stay the one writer; otherwise this process runs it.
   */
  const session = async (): Promise<Session> => {
    const existing = slot.get();
    if (existing) return existing;
    const host = readHostFile(dataDir());
    const remote = host ? await RemoteEngine.connect(host) : undefined;
    let s: Session;
    if (remote) {
      s = { invoke: (m, a) => remote.invoke(m, a), waitJob: (id) => remote.waitJob(id), remote: true, close: async () => remote.close() };
    } else {
      const engine = Engine.open({ dataDir: dataDir() });
      const router = createRouter(engine, 'cli');
      s = { invoke: router.invoke, waitJob: (id) => engine.jobs.wait(id), remote: false, close: () => engine.close() };
    }
    slot.set(s);
    return s;
  };

  const call: Cli['call'] = async (method, args) => {
    const result = await (await session()).invoke(method, args);
    if (!result.ok) throw new OperationFailed(result.error);
    return result.value;
  };

  const print: Cli['print'] = (value, json, human) => {
    if (json) io.out(`${JSON.stringify(value, null, 2)}\n`);
    else human();
  };

  const waitFor: Cli['waitFor'] = async (jobs, json) => {
    const s = await session();
    const ended = await Promise.all(jobs.map((j) => s.waitJob(j.id)));
    if (!json) for (const j of ended) io.out(`${describeJob(j)}\n`);
    const failed = ended.find((j) => j.status === 'Failed' || j.status === 'Cancelled');
    if (failed?.error) throw new OperationFailed({ ...failed.error, code: failed.error.code as ApiError['code'] });
    return ended;
  };

  return {
    io,
    dataDir,
    session,
    useSession: slot.set,
    call,
    print,
    waitFor,
    async finish(jobs: Job[], o) {
      if (o.wait || !(await session()).remote) {
        const ended = await waitFor(jobs, o.json);
        print(ended, o.json, () => undefined);
      } else {
        print(jobs, o.json, () => jobs.forEach((j) => io.out(`${describeJob(j)}\n`)));
      }
    },
    async unlock(needs, passphraseFile) {
      for (const name of await call('vaultsToUnlock', needs)) {
        // No passphrase at all: the job may still unlock with a remembered key, or reports VaultLocked.
        // Every other failure (unreadable file, wrong passphrase) stops here with its code and remedy.
        const passphrase = await findPassphrase({ file: passphraseFile, confirm: false, io, prompt: `Passphrase of vault ${name}: ` });
        if (passphrase !== undefined) await call('unlockVault', { name, passphrase });
      }
    },
  };
}
