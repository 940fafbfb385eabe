import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cofferIn } from '../helpers/cli.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

describe('coffer vault list/show: how each vault unlocks at start', () => {
  it('says "not at all" until a private key file is set, refuses a readable one with chmod 600, then names the file', () => {
    const dir = tmp();
    const coffer = cofferIn(path.join(dir, 'data'), { COFFER_PASSPHRASE: 'correct horse battery' });
    expect(coffer('vault', 'create', 'vault-ams', '--region', 'ams', '--path', path.join(dir, 'vault')).code).toBe(0);
    const before = coffer('vault', 'list');
    expect(before.out).toMatch(/NAME\s+REGION\s+LOCATION\s+REGISTERED\s+KEY\s+UNLOCKS AT START/);
    expect(before.out).toMatch(/vault-ams .*Not at all: scheduled backups will fail/);

    const keyFile = path.join(dir, 'ams.key');
    fs.writeFileSync(keyFile, 'correct horse battery\n');
    fs.chmodSync(keyFile, 0o640);
    const loose = coffer('vault', 'remember', 'vault-ams', '--key-file', keyFile);
    expect(loose.code).toBe(1);
    expect(loose.err).toContain('KeyFileNotPrivate');
    expect(loose.err).toContain(`chmod 600 ${keyFile}`);
    expect(coffer('vault', 'show', 'vault-ams').out).toMatch(/Unlocks at start: Not at all: scheduled backups will fail/);

    fs.chmodSync(keyFile, 0o600);
    expect(coffer('vault', 'remember', 'vault-ams', '--key-file', keyFile).code).toBe(0);
    expect(coffer('vault', 'list').out).toMatch(new RegExp(`vault-ams .*locked\\s+Key file \\(${keyFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`));
    expect(coffer('vault', 'show', 'vault-ams').out).toContain(`Unlocks at start: Key file (${keyFile})`);
    expect(JSON.parse(coffer('vault', 'list', '--json').out)[0]).toMatchObject({ unlocksAtStart: { via: 'keyFile', keyFile }, scheduledCount: 0 });

    // Neither or both of --key-file and --off is a usage error; --off forgets the file.
    expect(coffer('vault', 'remember', 'vault-ams').code).toBe(2);
    expect(coffer('vault', 'remember', 'vault-ams', '--off', '--key-file', keyFile).code).toBe(2);
    const off = coffer('vault', 'remember', 'vault-ams', '--off');
    expect(off.code).toBe(0);
    expect(off.out).toContain('Vault vault-ams no longer unlocks from a key file at start.');
    expect(coffer('vault', 'show', 'vault-ams').out).toMatch(/Unlocks at start: Not at all: scheduled backups will fail/);
  });
});
