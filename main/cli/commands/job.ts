import type { Command } from 'commander';
import { jobOperations, jobStatuses, jobTriggers, type JobOperation, type JobStatus, type JobTrigger } from '../../../preload/contract.js';
import { describeJob, jobText, listOf, type Cli } from '../io.js';
import { printTable } from '../format.js';

export function jobCommands(program: Command, cli: Cli): void {
  const { io, call, print } = cli;
  const job = program.command('job').description('the job log');
  job
    .command('list')
    .option('--status <s>', 'comma-separated statuses, e.g. Failed,InProgress', listOf(jobStatuses))
    .option('--operation <o>', 'comma-separated operations, e.g. Backup,Register', listOf(jobOperations))
    .option('--trigger <t>', `comma-separated triggers: ${jobTriggers.join(', ')}`, listOf(jobTriggers))
    .option('--from <time>', 'created at or after (ISO date or time, a year from 1970 to 9999)')
    .option('--to <time>', 'created up to the end of the minute, second or day it names (e.g. 2026-12-01T21:49 includes 21:49:59)')
    .option('--vault <vault>', 'only jobs of this vault')
    .option('--vm <vm>', 'only jobs of this VM (name, cloudservice/name or id)')
    .option('--limit <n>', 'page size', (v) => Number(v), 100)
    .option('--cursor <c>', 'the next-page cursor a previous call printed')
    .option('--json', 'print as JSON')
    .action(async (o: { status?: JobStatus[]; operation?: JobOperation[]; trigger?: JobTrigger[]; from?: string; to?: string; vault?: string; vm?: string; limit: number; cursor?: string; json?: boolean }) => {
      const page = await call('listJobs', {
        ...(o.status ? { status: o.status } : {}),
        ...(o.operation ? { operation: o.operation } : {}),
        ...(o.trigger ? { trigger: o.trigger } : {}),
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
          ['ID', 'OPERATION', 'TRIGGER', 'STATUS', 'VAULT', 'VM', 'CREATED', 'DURATION', 'RESULT'],
          page.jobs.map((j) => [
            String(j.id),
            j.operation,
            j.trigger,
            j.status,
            j.vaultName ?? '',
            j.vmName ?? '',
            j.createdAt,
            j.durationMs === null ? '' : `${(j.durationMs / 1000).toFixed(1)}s`,
            j.error?.code ?? (j.summary ? jobText(j.summary) : ''),
          ]),
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
  job.command('cancel <id>').action(async (id: string) => {
    const j = await call('cancelJob', { id: Number(id) });
    io.out(`${describeJob(j)}\n`);
  });
}
