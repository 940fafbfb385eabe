import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDeployment, loadDeployment } from '../../main/core/deployment.js';
import { cofferIn } from '../helpers/cli.js';
import { useEngines } from '../helpers/engine.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const open = useEngines();
const PASSPHRASE = 'correct horse battery staple';

/** A team vault made by another install, its key file (0600) and a deployment file naming both. */
async function teamSetup() {
  const dir = tmp();
  const vaultDir = path.join(dir, 'vaults', 'team');
  const { engine } = open(path.join(dir, 'admin-data'));
  await engine.vaults.create({ name: 'team', region: 'ams', passphrase: PASSPHRASE, path: vaultDir });
  await engine.close();
  const keyFile = path.join(dir, 'team.key');
  fs.writeFileSync(keyFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  const sources = path.join(dir, 'vms');
  fs.mkdirSync(sources);
  const config = {
    version: 1,
    vaults: [{ name: 'team-vault', path: vaultDir, passphrase: { keyFile } }],
    sources: [{ name: 'lab', kind: 'folder', target: sources, region: 'ams' }],
    policies: [{ vault: 'team-vault', name: 'Nightly', spec: { schedule: { kind: 'daily', times: ['01:30'] }, retention: { dailyDays: 14 } } }],
    notifications: 'failures',
  };
  const file = path.join(dir, 'deployment.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return { dir, file, keyFile, vaultDir, config };
}

describe('applying the deployment file', () => {
  it('connects the team vault, adds the source with its region and creates the policy; a second start changes nothing', async () => {
    const { dir, file, keyFile } = await teamSetup();
    const loaded = loadDeployment({ env: { COFFER_DEPLOYMENT_FILE: file } })!;
    const { engine } = open(path.join(dir, 'laptop-data'));
    const first = await applyDeployment(engine, loaded.config);
    expect(first.problems).toEqual([]);
    expect(first.changes).toEqual([
      'source lab added (region ams)',
      'vault team-vault connected',
      `vault team-vault unlocks at start with ${keyFile}`,
      'policy Nightly created in team-vault',
    ]);
    const second = await applyDeployment(engine, loaded.config);
    expect(second).toEqual({ changes: [], problems: [] });
    expect(engine.vaults.list().map((v) => [v.name, v.unlocksAtStart])).toEqual([['team-vault', { via: 'keyFile', keyFile }]]);
    expect(engine.inventory.listSources().map((s) => [s.name, s.region])).toEqual([['lab', 'ams']]);
    expect(engine.protection.listPolicies('team-vault').filter((p) => p.name === 'Nightly')).toHaveLength(1);
    // A user changed the managed policy: the next start sets it back, once.
    await engine.protection.editPolicy('team-vault', 'Nightly', { schedule: { kind: 'daily', times: ['12:00'] }, retention: { dailyDays: 3 } });
    expect((await applyDeployment(engine, loaded.config)).changes).toEqual(["policy Nightly in team-vault set back to the deployment's"]);
    expect(engine.protection.listPolicies('team-vault').find((p) => p.name === 'Nightly')?.schedule).toEqual({ kind: 'daily', times: ['01:30'] });
  });

  it('reports a missing key file as a problem and still applies the rest', async () => {
    const { dir, file, keyFile } = await teamSetup();
    fs.rmSync(keyFile);
    const loaded = loadDeployment({ env: { COFFER_DEPLOYMENT_FILE: file } })!;
    const { engine } = open(path.join(dir, 'laptop-data'));
    const report = await applyDeployment(engine, loaded.config);
    expect(report.problems.map((p) => [p.subject, p.code])).toEqual([
      ['vault team-vault', 'DeploymentSecretMissing'],
      ['policy team-vault/Nightly', 'VaultNotFound'],
    ]);
    expect(report.changes).toEqual(['source lab added (region ams)']);
  });

  it('an invalid file stops every command, `coffer serve` included, with the field path; nothing is applied', async () => {
    const { dir, file, config } = await teamSetup();
    fs.writeFileSync(file, JSON.stringify({ ...config, vaults: [{ ...config.vaults[0], passphrase: PASSPHRASE }] }));
    const data = path.join(dir, 'laptop-data');
    const coffer = cofferIn(data, { COFFER_DEPLOYMENT_FILE: file });
    for (const args of [['vault', 'list'], ['serve', '--port', '0'], ['deployment', 'apply']]) {
      const r = coffer(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err).toContain(`DeploymentFileInvalid: The deployment file ${file} is refused: vaults[0].passphrase: an inline passphrase is refused`);
      expect(r.err).toContain('remedy');
    }
    // Nothing was applied: with the file fixed, the data folder has no vault yet.
    fs.writeFileSync(file, JSON.stringify(config));
    expect(JSON.parse(coffer('vault', 'list', '--json').out)).toEqual([]);
    const applied = coffer('deployment', 'apply');
    expect(applied.code, applied.err).toBe(0);
    expect(applied.out).toContain('vault team-vault connected');
    expect(coffer('deployment', 'apply').out).toContain('Nothing to change');
    expect(coffer('deployment', 'show').out).toContain('Managed settings: notifications');
  });
});
