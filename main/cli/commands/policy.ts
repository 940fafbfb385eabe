import type { Command } from 'commander';
import type { Policy, PolicySpec } from '../../../preload/contract.js';
import { policySpecFromCli, type PolicyCliFlags } from '../../../preload/policy.js';
import { CofferError } from '../../core/errors.js';
import { printVms, type Cli } from '../io.js';

export function policyCommands(program: Command, cli: Cli): void {
  const { io, call, print } = cli;
  const policy = program.command('policy').description('backup policies of a vault: schedule and retention');
  const policyFlags = (c: Command): Command =>
    c
      .option('--daily <times>', 'back up every day at HH:MM[,HH:MM...]')
      .option('--weekly <spec>', 'back up on DAY[,DAY...]@HH:MM[,HH:MM...], e.g. SAT,SUN@22:00')
      .option('--keep-daily <n>', 'keep daily points N days')
      .option('--keep-weekly <day:n>', 'keep the DAY backup N weeks, e.g. SUN:104')
      .option('--keep-monthly <rule:n>', 'keep the RULE backup N months, e.g. last-SUN:120 or day-1:12')
      .option('--keep-yearly <month:rule:n>', 'keep the MONTH RULE backup N years, e.g. JAN:first-SUN:99')
      .option('--full-read-every <n>', 'read disks that look unchanged in full every N backups (default: once a week of the schedule)')
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
}
