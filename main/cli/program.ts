import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiError, ArgsOf, Job, MethodName, Policy, PolicySpec, Result, ResultOf, Vm } from '../../preload/contract.js';
import { policySpecFromCli, type PolicyCliFlags } from '../core/policy/spec.js';
import { defaultDataDir, Engine } from '../core/engine.js';
import { CofferError, toApiError } from '../core/errors.js';
import { vmMatches } from '../core/inventory.js';
import { readHostFile, writeHostFile } from '../host/host-file.js';
import { startConsoleServer } from '../host/server.js';
import { createRouter } from '../rpc/router.js';
import { RemoteEngine } from './remote.js';
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

/** Where commands go: this process's own engine, or a running host over its WebSocket. */
interface Session {
  invoke<M extends MethodName>(method: M, args: ArgsOf<M>): Promise<Result<ResultOf<M>>>;
  waitJob(id: number): Promise<Job>;
  close(): Promise<void>;
}

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
  let current: Session | undefined;
  const program = new Command();
  const dataDir = (): string => path.resolve(program.opts<{ dataDir?: string }>().dataDir ?? defaultDataDir());

  /**
   * A running host (desktop app or `coffer serve`) on the same data folder gets the call, so its
   * scheduler, job log and open vaults stay the one writer; otherwise this process runs it.
   */
  const session = async (): Promise<Session> => {
    if (current) return current;
    const host = readHostFile(dataDir());
    const remote = host ? await RemoteEngine.connect(host) : undefined;
    if (remote) {
      current = { invoke: (m, a) => remote.invoke(m, a), waitJob: (id) => remote.waitJob(id), close: async () => remote.close() };
    } else {
      const engine = Engine.open({ dataDir: dataDir() });
      const router = createRouter(engine, 'cli');
      current = { invoke: router.invoke, waitJob: (id) => engine.jobs.wait(id), close: () => engine.close() };
    }
    return current;
  };

  const call = async <M extends MethodName>(method: M, args: ArgsOf<M>): Promise<ResultOf<M>> => {
    const result = await (await session()).invoke(method, args);
    if (!result.ok) throw new OperationFailed(result.error);
    return result.value;
  };

  /** Unlocks the vaults these commands need with COFFER_PASSPHRASE, --passphrase-file or a prompt. */
  const unlock = async (vaultNames: string[], passphraseFile?: string): Promise<void> => {
    const locked = (await call('listVaults', {})).filter((v) => !v.unlocked && vaultNames.some((n) => n.toLowerCase() === v.name.toLowerCase()));
    for (const v of locked) {
      const passphrase = await readPassphrase({ file: passphraseFile, confirm: false, io, prompt: `Passphrase of vault ${v.name}: ` }).catch(() => undefined);
      // Without a passphrase the job itself reports VaultLocked with its remedy.
      if (passphrase !== undefined) await call('unlockVault', { name: v.name, passphrase });
    }
  };
  const vaultsOfVms = async (refs: string[]): Promise<string[]> => {
    const vms = await call('listVms', {});
    return [...new Set(vms.filter((v) => refs.some((r) => vmMatches(v, r))).map((v) => v.vaultName ?? ''))].filter(Boolean);
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

  const waitFor = async (jobs: Job[], json?: boolean): Promise<Job[]> => {
    const s = await session();
    const ended = await Promise.all(jobs.map((j) => s.waitJob(j.id)));
    if (!json) for (const j of ended) io.out(`${describeJob(j)}\n`);
    const failed = ended.find((j) => j.status === 'Failed' || j.status === 'Cancelled');
    if (failed?.error) throw new OperationFailed({ ...failed.error, code: failed.error.code as ApiError['code'] });
    return ended;
  };

  /** With --wait (and always when this process runs the job itself) wait, else print the queued jobs. */
  const finish = async (jobs: Job[], o: { wait?: boolean; json?: boolean }): Promise<void> => {
    if (o.wait || !readHostFile(dataDir())) {
      const ended = await waitFor(jobs, o.json);
      print(ended, o.json, () => undefined);
    } else {
      print(jobs, o.json, () => jobs.forEach((j) => io.out(`${describeJob(j)}\n`)));
    }
  };

  const source = program.command('source').description('places Coffer finds VMs in: folders and hypervisor connections');
  const addSource = source.command('add').description('add a source');
  for (const kind of ['folder', 'libvirt'] as const) {
    addSource
      .command(`${kind} <${kind === 'folder' ? 'path' : 'uri'}>`)
      .description(kind === 'folder' ? 'a folder tree of VM definitions and disk images' : 'a libvirt connection (virsh -c URI)')
      .requiredOption('--region <region>', 'the region label of the VMs found here')
      .option('--name <name>', 'a name for the source')
      .option('--cloud-service <label>', 'group label for its VMs (libvirt: default the URI host)')
      .option('--json', 'print as JSON')
      .action(async (target: string, o: { region: string; name?: string; cloudService?: string; json?: boolean }) => {
        const s = await call('addSource', {
          kind,
          target: kind === 'folder' ? path.resolve(target) : target,
          region: o.region,
          ...(o.name ? { name: o.name } : {}),
          ...(o.cloudService ? { cloudServiceLabel: o.cloudService } : {}),
        });
        print(s, o.json, () => io.out(`Source ${s.name} added (${s.kind} ${s.target}, region ${s.region}): ${s.state}${s.message ? ` - ${s.message}` : ''}\n`));
      });
  }
  for (const kind of ['virtualbox', 'vmware', 'hyperv'] as const) {
    addSource
      .command(kind)
      .description(`the ${kind} VMs of this machine (needs its command-line tool)`)
      .requiredOption('--region <region>', 'the region label of the VMs found here')
      .option('--name <name>', 'a name for the source')
      .option('--json', 'print as JSON')
      .action(async (o: { region: string; name?: string; json?: boolean }) => {
        const s = await call('addSource', { kind, target: '', region: o.region, ...(o.name ? { name: o.name } : {}) });
        print(s, o.json, () => io.out(`Source ${s.name} added (region ${s.region}): ${s.state}${s.message ? ` - ${s.message}` : ''}\n`));
      });
  }
  source
    .command('list')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await call('listSources', {});
      print(list, o.json, () =>
        printTable(
          io.out,
          ['NAME', 'KIND', 'TARGET', 'REGION', 'STATE', 'VMS', 'LAST SCAN'],
          list.map((s) => [s.name, s.kind, s.target, s.region, s.state, String(s.vmCount), s.lastScanAt ?? 'never']),
        ),
      );
    });
  source
    .command('show <name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const s = await call('showSource', { name });
      print(s, o.json, () => {
        io.out(`${s.name}: ${s.kind} ${s.target}, region ${s.region}, ${s.state}${s.message ? ` (${s.message})` : ''}\n`);
        printVms(io.out, s.vms);
      });
    });
  source
    .command('edit <name>')
    .option('--rename <newName>', 'a new name')
    .option('--region <region>', 'a new region label (refused while VMs of the source are registered)')
    .option('--cloud-service <label>', 'a new group label')
    .option('--json', 'print as JSON')
    .action(async (name: string, o: { rename?: string; region?: string; cloudService?: string; json?: boolean }) => {
      const s = await call('editSource', {
        name,
        ...(o.rename ? { newName: o.rename } : {}),
        ...(o.region ? { region: o.region } : {}),
        ...(o.cloudService ? { cloudServiceLabel: o.cloudService } : {}),
      });
      print(s, o.json, () => io.out(`Source ${s.name} updated.\n`));
    });
  source
    .command('remove <name>')
    .action(async (name: string) => {
      const r = await call('removeSource', { name });
      io.out(`Source ${r.name} removed (${r.forgottenVms} discovered VM(s) forgotten).\n`);
    });

  const vm = program.command('vm').description('discover, list, register and unregister virtual machines');
  vm.command('discover')
    .description('query every source and list the VMs the vault can register (W1..W3)')
    .requiredOption('--vault <vault>', 'the vault')
    .option('--json', 'print as JSON')
    .action(async (o: { vault: string; json?: boolean }) => {
      const job = await call('discoverVms', { vault: o.vault });
      await waitFor([job], o.json);
      const r = await call('discoveryResult', { vault: o.vault });
      print(r, o.json, () => {
        if (r.candidates.length) printVms(io.out, r.candidates);
        for (const e of r.excluded) io.out(`  not listed: ${e.vm.cloudService}/${e.vm.name} (${e.reason}: ${e.detail})\n`);
      });
    });
  vm.command('list')
    .option('--vault <vault>', 'only VMs registered to this vault')
    .option('--json', 'print as JSON')
    .action(async (o: { vault?: string; json?: boolean }) => {
      const list = await call('listVms', o.vault ? { vault: o.vault } : {});
      print(list, o.json, () => printVms(io.out, list));
    });
  for (const [name, method, verb] of [
    ['register', 'registerVms', 'register VMs with a vault: one Register job per VM (W4..W7)'],
    ['unregister', 'unregisterVms', 'unregister VMs from a vault (refused while protected)'],
  ] as const) {
    vm.command(`${name} <vms...>`)
      .description(verb)
      .requiredOption('--vault <vault>', 'the vault')
      .option('--json', 'print as JSON')
      .action(async (vms: string[], o: { vault: string; json?: boolean }) => {
        const jobs = await call(method, { vault: o.vault, vms });
        const ended = await waitFor(jobs, o.json);
        print(ended, o.json, () => undefined);
      });
  }

  const job = program.command('job').description('the job log');
  job
    .command('list')
    .option('--status <s>', 'comma-separated statuses, e.g. Failed,InProgress')
    .option('--operation <o>', 'comma-separated operations, e.g. Backup,Register')
    .option('--from <time>', 'created at or after (ISO date or time)')
    .option('--to <time>', 'created at or before (ISO date or time)')
    .option('--vault <vault>', 'only jobs of this vault')
    .option('--vm <vm>', 'only jobs of this VM (name, cloudservice/name or id)')
    .option('--limit <n>', 'page size', (v) => Number(v), 100)
    .option('--cursor <c>', 'the next-page cursor a previous call printed')
    .option('--json', 'print as JSON')
    .action(async (o: { status?: string; operation?: string; from?: string; to?: string; vault?: string; vm?: string; limit: number; cursor?: string; json?: boolean }) => {
      const page = await call('listJobs', {
        ...(o.status ? { status: o.status.split(',') as Job['status'][] } : {}),
        ...(o.operation ? { operation: o.operation.split(',') as Job['operation'][] } : {}),
        ...(o.from ? { from: o.from } : {}),
        ...(o.to ? { to: o.to } : {}),
        ...(o.vault ? { vault: o.vault } : {}),
        ...(o.vm ? { vm: o.vm } : {}),
        ...(o.cursor ? { cursor: o.cursor } : {}),
        limit: o.limit,
      });
      print(o.json ? page.jobs : page, o.json, () => {
        printTable(
          io.out,
          ['ID', 'OPERATION', 'STATUS', 'VAULT', 'VM', 'CREATED', 'DURATION', 'ERROR'],
          page.jobs.map((j) => [String(j.id), j.operation, j.status, j.vaultName ?? '', j.vmName ?? '', j.createdAt, j.durationMs === null ? '' : `${(j.durationMs / 1000).toFixed(1)}s`, j.error?.code ?? '']),
        );
        if (page.nextCursor) io.out(`more: --cursor ${page.nextCursor}\n`);
      });
    });
  job
    .command('show <id>')
    .option('--json', 'print as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const j = await call('showJob', { id: Number(id) });
      print(j, o.json, () => io.out(`${describeJob(j)}\n`));
    });
  job
    .command('cancel <id>')
    .action(async (id: string) => {
      const j = await call('cancelJob', { id: Number(id) });
      io.out(`${describeJob(j)}\n`);
    });

  const policy = program.command('policy').description('backup policies of a vault: schedule and retention');
  const policyFlags = (c: Command): Command =>
    c
      .option('--daily <times>', 'back up every day at HH:MM[,HH:MM...]')
      .option('--weekly <spec>', 'back up on DAY[,DAY...]@HH:MM[,HH:MM...], e.g. SAT,SUN@22:00')
      .option('--keep-daily <n>', 'keep daily points N days')
      .option('--keep-weekly <day:n>', 'keep the DAY backup N weeks, e.g. SUN:104')
      .option('--keep-monthly <rule:n>', 'keep the RULE backup N months, e.g. last-SUN:120 or day-1:12')
      .option('--keep-yearly <month:rule:n>', 'keep the MONTH RULE backup N years, e.g. JAN:first-SUN:99')
      .option('--json', 'print as JSON');
  const specFrom = (o: PolicyCliFlags): PolicySpec => {
    const parsed = policySpecFromCli(o);
    if (!parsed.success) {
      throw new CofferError('InvalidArgument', `Invalid policy: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'policy'}: ${i.message}`).join('; ')}`);
    }
    return parsed.data;
  };
  const printPolicy = (p: Policy): void => io.out(`${p.name}${p.builtin ? ' (built-in)' : ''}: ${p.description} - ${p.vmCount} VM(s)\n`);
  policyFlags(policy.command('create <name>').description('create a policy').requiredOption('--vault <vault>', 'the vault')).action(
    async (name: string, o: PolicyCliFlags & { vault: string; json?: boolean }) => {
      const p = await call('createPolicy', { vault: o.vault, name, spec: specFrom(o) });
      print(p, o.json, () => printPolicy(p));
    },
  );
  policyFlags(policy.command('edit <name>').description('change a policy; applies at once to all its VMs').requiredOption('--vault <vault>', 'the vault')).action(
    async (name: string, o: PolicyCliFlags & { vault: string; json?: boolean }) => {
      const p = await call('editPolicy', { vault: o.vault, name, spec: specFrom(o) });
      print(p, o.json, () => printPolicy(p));
    },
  );
  policy
    .command('list')
    .requiredOption('--vault <vault>', 'the vault')
    .option('--json', 'print as JSON')
    .action(async (o: { vault: string; json?: boolean }) => {
      const list = await call('listPolicies', { vault: o.vault });
      print(list, o.json, () => list.forEach(printPolicy));
    });
  policy
    .command('show <name>')
    .requiredOption('--vault <vault>', 'the vault')
    .option('--json', 'print as JSON')
    .action(async (name: string, o: { vault: string; json?: boolean }) => {
      const p = await call('showPolicy', { vault: o.vault, name });
      print(p, o.json, () => {
        printPolicy(p);
        if (p.vms.length) printVms(io.out, p.vms);
      });
    });
  policy
    .command('delete <name>')
    .requiredOption('--vault <vault>', 'the vault')
    .action(async (name: string, o: { vault: string }) => {
      await call('deletePolicy', { vault: o.vault, name });
      io.out(`Policy ${name} deleted.\n`);
    });

  program
    .command('protect <vms...>')
    .description('protect registered VMs with a policy: one ConfigureProtection job per VM (W9..W13)')
    .requiredOption('--vault <vault>', 'the vault')
    .requiredOption('--policy <policy>', 'an existing policy of the vault')
    .option('--json', 'print as JSON')
    .action(async (vms: string[], o: { vault: string; policy: string; json?: boolean }) => {
      const ended = await waitFor(await call('protectVms', { vault: o.vault, vms, policy: o.policy }), o.json);
      print(ended, o.json, () => undefined);
    });

  const protection = program.command('protection').description('stop, resume or change the protection of a VM (W22)');
  protection
    .command('stop <vm>')
    .option('--keep-data', 'stop backups, keep the recovery points')
    .option('--delete-data', 'stop backups and delete every recovery point of the VM')
    .option('--confirm <name>', "the VM's name, required with --delete-data (asked in a terminal)")
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .action(async (vm: string, o: { keepData?: boolean; deleteData?: boolean; confirm?: string; passphraseFile?: string }) => {
      if (!o.keepData === !o.deleteData) throw new CofferError('InvalidArgument', 'Give exactly one of --keep-data or --delete-data.');
      if (o.deleteData) await unlock(await vaultsOfVms([vm]), o.passphraseFile);
      const confirmName = o.confirm ?? (o.deleteData ? vm.slice(vm.lastIndexOf('/') + 1) : undefined);
      await waitFor([await call('stopProtection', { vm, deleteData: o.deleteData ?? false, ...(confirmName ? { confirmName } : {}) })]);
    });
  protection.command('resume <vm>').action(async (vm: string) => {
    await waitFor([await call('resumeProtection', { vm })]);
  });
  protection
    .command('change-policy <vm>')
    .requiredOption('--policy <policy>', 'the new policy')
    .action(async (vm: string, o: { policy: string }) => {
      await waitFor([await call('changePolicy', { vm, policy: o.policy })]);
    });

  const backup = program.command('backup').description('back up protected VMs');
  backup
    .command('now <vms...>')
    .description('start a Backup job per VM at once (W15)')
    .option('--retain-until <date>', 'keep this point until DATE (default: the policy daily retention)')
    .option('--wait', 'wait for the jobs to end; exit 1 if one failed')
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .option('--json', 'print as JSON')
    .action(async (vms: string[], o: { retainUntil?: string; wait?: boolean; passphraseFile?: string; json?: boolean }) => {
      await unlock(await vaultsOfVms(vms), o.passphraseFile);
      const jobs = await call('backupNow', { vms, ...(o.retainUntil ? { retainUntil: o.retainUntil } : {}) });
      await finish(jobs, o);
    });

  program
    .command('restore <vm>')
    .description('restore a recovery point as a new VM, its disks into an empty folder, or over its own disks (W23)')
    .requiredOption('--point <id>', 'the recovery point (see `coffer point list VM`)')
    .option('--as-new <name>', 'restore the whole VM under a new name (new UUID)')
    .option('--to <dir>', 'target folder for --as-new')
    .option('--define-on <uri>', 'with --as-new: also define the VM on this libvirt connection')
    .option('--disks-to <dir>', 'restore only the disks into this folder')
    .option('--replace-disks', "replace the VM's own disk files (VM off; the old files are kept as safety copies)")
    .option('--wait', 'wait for the job to end; exit 1 if it failed')
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .option('--json', 'print as JSON')
    .action(
      async (
        vm: string,
        o: { point: string; asNew?: string; to?: string; defineOn?: string; disksTo?: string; replaceDisks?: boolean; wait?: boolean; passphraseFile?: string; json?: boolean },
      ) => {
        const modes = [o.asNew !== undefined, o.disksTo !== undefined, o.replaceDisks === true].filter(Boolean).length;
        if (modes !== 1 || (o.asNew !== undefined && !o.to)) {
          throw new CofferError('InvalidArgument', 'Give one of: --as-new NAME --to DIR, --disks-to DIR, or --replace-disks.');
        }
        await unlock(await vaultsOfVms([vm]), o.passphraseFile);
        const how =
          o.asNew !== undefined
            ? { mode: 'newVm' as const, targetDir: path.resolve(o.to!), newName: o.asNew, ...(o.defineOn ? { defineOn: o.defineOn } : {}) }
            : o.disksTo !== undefined
              ? { mode: 'disks' as const, targetDir: path.resolve(o.disksTo) }
              : { mode: 'replaceDisks' as const };
        await finish([await call('restorePoint', { vm, pointId: o.point, ...how })], o);
      },
    );

  program
    .command('verify <vault>')
    .description('check that every recovery point is readable (--full: read and authenticate every chunk)')
    .option('--full', 'read, decrypt and hash every chunk')
    .option('--wait', 'wait for the job to end; exit 1 if it failed')
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked')
    .option('--json', 'print as JSON')
    .action(async (vault: string, o: { full?: boolean; wait?: boolean; passphraseFile?: string; json?: boolean }) => {
      await unlock([vault], o.passphraseFile);
      await finish([await call('verifyVault', { vault, full: o.full ?? false })], o);
    });

  const point = program.command('point').description('recovery points');
  point
    .command('list <vm>')
    .option('--json', 'print as JSON')
    .action(async (vm: string, o: { json?: boolean }) => {
      const points = await call('listPoints', { vm });
      print(points, o.json, () =>
        printTable(
          io.out,
          ['ID', 'CREATED', 'CONSISTENCY', 'SIZE', 'ADDED', 'KEPT BY', 'RETAIN UNTIL'],
          points.map((p) => [p.id, p.created, p.consistency, formatBytes(p.logicalBytes), formatBytes(p.addedBytes), p.keptBy.join(',') || 'nothing (pruned next)', p.retainUntil ?? '']),
        ),
      );
    });

  program
    .command('dashboard')
    .description('protected VMs, jobs of the last 24 hours, storage per vault, next backups (W18)')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const d = await call('dashboard', {});
      print(d, o.json, () => {
        const states = Object.entries(d.protectedByState).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
        io.out(`Protected VMs: ${states}\n`);
        io.out(`Jobs (24 h): ${d.jobs24h.completed} completed, ${d.jobs24h.warnings} with warnings, ${d.jobs24h.failed} failed, ${d.jobs24h.inProgress} in progress\n`);
        for (const v of d.vaults) io.out(`Vault ${v.name}: ${v.pointCount} point(s), ${formatBytes(v.storedBytes)} stored, ${formatBytes(v.savedBytes)} saved by deduplication\n`);
        if (d.vms.length) {
          printTable(io.out, ['VM', 'VAULT', 'STATE', 'LAST BACKUP', 'NEXT BACKUP'], d.vms.map((v) => [`${v.cloudService}/${v.name}`, v.vaultName, v.state, v.lastBackupAt ?? 'never', v.nextBackupAt ?? '']));
        }
      });
    });

  vault
    .command('unlock <name>')
    .description('give this console (or the running host) the vault key')
    .option('--passphrase-file <file>', 'read the passphrase from this file')
    .action(async (name: string, o: { passphraseFile?: string }) => {
      const passphrase = await readPassphrase({ file: o.passphraseFile, confirm: false, io });
      await call('unlockVault', { name, passphrase });
      io.out(`Vault ${name} unlocked.\n`);
    });
  vault
    .command('remember <name>')
    .description('unattended backups: unlock the vault from a key file readable only by this user')
    .requiredOption('--key-file <file>', 'a file (mode 0600) holding the passphrase on its first line')
    .action(async (name: string, o: { keyFile: string }) => {
      await call('setVaultKeyFile', { name, keyFile: path.resolve(o.keyFile) });
      io.out(`Vault ${name} will be unlocked from ${path.resolve(o.keyFile)} for scheduled backups.\n`);
    });

  program
    .command('serve')
    .description('serve the console on 127.0.0.1 with a random access token')
    .addOption(new Option('--port <port>', 'port to listen on; 0 picks a free one').default(0).argParser(parsePort))
    .option('--no-scheduler', 'do not run scheduled backups in this host')
    .action(async (o: { port: number; scheduler: boolean }) => {
      const engine = Engine.open({ dataDir: dataDir() });
      const router = createRouter(engine, 'browser');
      current = { invoke: router.invoke, waitJob: (id) => engine.jobs.wait(id), close: () => engine.close() };
      const server = await startConsoleServer({ engine, router, staticDir: rendererDir(), port: o.port });
      const removeHostFile = writeHostFile(engine.dataDir, { pid: process.pid, port: server.port, token: server.token });
      const stopScheduler = o.scheduler ? engine.startScheduler() : () => undefined;
      io.out(`Coffer console: ${server.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          stopScheduler();
          removeHostFile();
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
    await current?.close();
  }
}

function describeJob(j: Job): string {
  const subject = [j.vaultName, j.vmName && (j.cloudService ? `${j.cloudService}/${j.vmName}` : j.vmName)].filter(Boolean).join(' ');
  const lines = [`Job ${j.id} ${j.operation}${subject ? ` ${subject}` : ''}: ${j.status}${j.summary ? ` - ${j.summary}` : ''}`];
  if (j.bytesTotal > 0) lines.push(`  progress ${(j.progress * 100).toFixed(0)}%, ${formatBytes(j.bytesDone)} of ${formatBytes(j.bytesTotal)}`);
  for (const w of j.warnings) lines.push(`  warning ${w.code}: ${w.message}`);
  if (j.error) lines.push(`  error ${j.error.code}: ${j.error.message}`, `  remedy: ${j.error.remedy}`);
  return lines.join('\n');
}

function printVms(out: (t: string) => void, vms: Vm[]): void {
  printTable(
    out,
    ['NAME', 'CLOUD SERVICE', 'REGION', 'SOURCE', 'POWER', 'DISKS', 'VAULT', 'STATE'],
    vms.map((v) => [
      v.name,
      v.cloudService,
      v.region,
      v.sourceName,
      v.powerState,
      String(v.disks.filter((d) => d.role === 'disk' && !d.extentOf).length),
      v.vaultName ?? '',
      v.missing ? 'SourceVmMissing' : (v.protectionState ?? v.registrationState),
    ]),
  );
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
