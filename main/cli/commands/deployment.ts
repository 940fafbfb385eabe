import type { Command } from 'commander';
import { applyDeployment, deploymentInfo, loadDeployment } from '../../core/deployment.js';
import { Engine } from '../../core/engine.js';
import type { Cli } from '../io.js';

export function deploymentCommands(program: Command, cli: Cli): void {
  const { io, print } = cli;
  const deployment = program.command('deployment').description("this machine's deployment file (/etc/coffer/deployment.json or COFFER_DEPLOYMENT_FILE)");
  deployment
    .command('show')
    .description('check the deployment file and show what it manages')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => {
      const info = deploymentInfo(loadDeployment());
      print(info, o.json, () => {
        if (!info.file) {
          io.out('No deployment file: nothing is managed.\n');
          return;
        }
        io.out(`Deployment file: ${info.file} (valid)\n`);
        io.out(`Managed settings: ${info.managed.join(', ') || 'none'}\n`);
        io.out(`Team vaults: ${info.vaults.join(', ') || 'none'}\n`);
        io.out(`Policies: ${info.policies.map((p) => `${p.vault}/${p.name}`).join(', ') || 'none'}\n`);
        io.out(`Update feed: ${info.updateFeed ?? 'off'}\n`);
      });
    });
  deployment
    .command('apply')
    .description('apply the deployment file to this data folder now (hosts apply it at every start)')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const loaded = loadDeployment();
      if (!loaded) {
        print({ changes: [], problems: [] }, o.json, () => io.out('No deployment file: nothing to apply.\n'));
        return;
      }
      if ((await cli.session()).remote) {
        io.out('A Coffer host runs on this data folder and applied the deployment file at its start; restart it (systemctl restart coffer) to apply a changed file.\n');
        return;
      }
      const engine = Engine.open({ dataDir: cli.dataDir() });
      try {
        engine.deployment = loaded;
        const report = await applyDeployment(engine, loaded.config);
        print(report, o.json, () => {
          for (const c of report.changes) io.out(`${c}\n`);
          for (const p of report.problems) io.err(`${p.subject}: ${p.code}: ${p.message}\n`);
          if (report.changes.length === 0 && report.problems.length === 0) io.out('Nothing to change: this machine already matches the deployment file.\n');
        });
        if (report.problems.length > 0) process.exitCode = 1;
      } finally {
        await engine.close();
      }
    });
}
