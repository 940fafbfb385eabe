import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploymentJsonSchema } from '../../main/core/deployment-schema.js';
import { deploymentInfo, machineDeploymentFile, parseDeployment } from '../../main/core/deployment.js';
import { isCofferError, type CofferError } from '../../main/core/errors.js';
import { repoRoot } from '../helpers/tmp.js';

const team = { name: 'team', path: '/srv/vaults/team', passphrase: { keyFile: '/etc/coffer/keys/team.key' } };

function refusal(config: unknown): CofferError {
  try {
    parseDeployment('/etc/coffer/deployment.json', JSON.stringify(config));
  } catch (e) {
    if (isCofferError(e, 'DeploymentFileInvalid')) return e;
    throw e;
  }
  throw new Error('the deployment file was accepted');
}

describe('the deployment file schema', () => {
  it('is published: docs/deployment.schema.json is the JSON Schema of the zod schema (run `npm run deployment-schema` after changing it)', () => {
    const committed: unknown = JSON.parse(fs.readFileSync(path.join(repoRoot, 'docs/deployment.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(deploymentJsonSchema())));
  });

  it('accepts the example shipped with the host package', () => {
    const text = fs.readFileSync(path.join(repoRoot, 'packaging/host/deployment.example.json'), 'utf8');
    const config = parseDeployment('deployment.example.json', text);
    expect(config.vaults.map((v) => v.name)).toEqual(['team-nas', 'team-s3']);
  });

  it('refuses an inline passphrase, naming the field and the remedy', () => {
    const e = refusal({ version: 1, vaults: [{ ...team, passphrase: 'correct horse battery staple' }] });
    expect(e.message).toContain('vaults[0].passphrase');
    expect(e.message).toContain('inline passphrase is refused');
    expect(e.details).toMatchObject({ field: 'vaults[0].passphrase' });
    expect(e.remedy).toContain('docs/deployment.schema.json');
  });

  it('refuses inline storage secrets under any name, and secrets in a storage URL', () => {
    expect(refusal({ version: 1, vaults: [{ ...team, accountKey: 'abc' }] }).details).toMatchObject({ field: 'vaults[0].accountKey' });
    expect(refusal({ version: 1, vaults: [{ name: 'blob', azure: 'https://acct.blob.core.windows.net/c?sv=2024&sig=abc', passphrase: { env: 'P' } }] }).message).toContain(
      'vaults[0].azure: a query string (such as a SAS token)',
    );
    expect(refusal({ version: 1, vaults: [{ name: 'b3', s3: 's3://key:secret@bucket/p', passphrase: { env: 'P' } }] }).message).toContain('vaults[0].s3: credentials in the URL');
  });

  it('names the path of every other bad field, and refuses unknown keys and JSON errors', () => {
    expect(refusal({ version: 1, policies: [{ vault: 'team', name: 'Nightly', spec: { schedule: { kind: 'daily', times: ['25:00'] }, retention: { dailyDays: 7 } } }] }).message).toMatch(
      /policies\[0\]\.spec\.schedule/,
    );
    expect(refusal({ version: 1, updates: { url: 'ftp://x' } }).message).toContain('updates.url');
    expect(refusal({ version: 1, colour: 'blue' }).message).toContain('colour');
    expect(refusal({ version: 1, vaults: [team, { ...team, name: 'TEAM' }] }).message).toContain('vaults[1].name: the vault name TEAM is listed twice');
    expect(() => parseDeployment('/x.json', '{ "version": 1,')).toThrow(/The deployment file \/x.json is refused: \(the file\): is not JSON/);
  });

  it('manages what the file sets, except what users may change', () => {
    const config = parseDeployment('/d.json', JSON.stringify({ version: 1, language: 'nl', theme: 'dark', notifications: 'failures', updates: { url: 'http://updates.lan/coffer/' }, userMayChange: ['theme'] }));
    const info = deploymentInfo({ file: '/d.json', config });
    expect(info.managed).toEqual(['language', 'notifications', 'updates']);
    expect(info.updateFeed).toBe('http://updates.lan/coffer/');
    expect(deploymentInfo(null)).toMatchObject({ file: null, managed: [], updateFeed: null });
  });

  it('lives in /etc/coffer on Linux and in ProgramData on Windows', () => {
    expect(machineDeploymentFile('linux')).toBe('/etc/coffer/deployment.json');
    expect(machineDeploymentFile('win32', { ProgramData: 'D:\\PD' })).toBe(path.join('D:\\PD', 'Coffer', 'deployment.json'));
  });
});
