// The CLI says no instead of changing the input, with the same rules as the console: a count that
// is not whole (2.5) is refused, never rounded; a weak passphrase makes no vault unless the admin
// accepts the risk with --weak-passphrase-ok.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cofferIn } from '../helpers/cli.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

describe('coffer CLI validation', () => {
  it('refuses the weak passphrase `password` with PassphraseWeak and its remedy; --weak-passphrase-ok accepts it', () => {
    const dir = tmp();
    const coffer = cofferIn(path.join(dir, 'data'), { COFFER_PASSPHRASE: 'password' });
    const folder = path.join(dir, 'vaults', 'weak');

    const refused = coffer('vault', 'create', 'weak', '--region', 'lab', '--path', folder);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('PassphraseWeak');
    expect(refused.err).toContain('the backups of the vault are lost');
    expect(refused.err).toContain('--weak-passphrase-ok');
    // Nothing was made: no vault in the list, no config in the folder.
    expect(JSON.parse(coffer('vault', 'list', '--json').out)).toEqual([]);
    expect(fs.existsSync(path.join(folder, 'config'))).toBe(false);

    const accepted = coffer('vault', 'create', 'weak', '--region', 'lab', '--path', folder, '--weak-passphrase-ok');
    expect(accepted.err).toBe('');
    expect(accepted.code).toBe(0);
    expect(fs.existsSync(path.join(folder, 'config'))).toBe(true);

    // Too short stays refused whatever the admin accepts.
    const short = cofferIn(path.join(dir, 'data'), { COFFER_PASSPHRASE: 'short' })('vault', 'create', 'short', '--region', 'lab', '--path', path.join(dir, 'vaults', 's'), '--weak-passphrase-ok');
    expect(short.code).toBe(2);
    expect(short.err).toContain('at least 8 characters');
  });

  it('refuses --keep-daily 2.5, --keep-yearly JAN:first-SUN:2.5 and --daily 2.5 as typed errors; nothing is saved', () => {
    const dir = tmp();
    const coffer = cofferIn(path.join(dir, 'data'), { COFFER_PASSPHRASE: 'correct horse battery' });
    expect(coffer('vault', 'create', 'v1', '--region', 'lab', '--path', path.join(dir, 'v1')).code).toBe(0);

    const days = coffer('policy', 'create', 'Half', '--vault', 'v1', '--daily', '22:00', '--keep-daily', '2.5');
    expect(days.code).toBe(2);
    expect(days.err).toContain('InvalidArgument');
    expect(days.err).toContain('retention.dailyDays: Daily retention (days) must be a whole number from 1 to 9999.');

    const years = coffer('policy', 'create', 'Half', '--vault', 'v1', '--daily', '22:00', '--keep-daily', '30', '--keep-yearly', 'JAN:first-SUN:2.5');
    expect(years.code).toBe(2);
    expect(years.err).toContain('Yearly retention (years) must be a whole number from 1 to 99.');

    const time = coffer('policy', 'create', 'Half', '--vault', 'v1', '--daily', '2.5', '--keep-daily', '30');
    expect(time.code).toBe(2);
    expect(time.err).toContain('"2.5" is not a time');

    const edit = coffer('policy', 'edit', 'DefaultPolicy', '--vault', 'v1', '--daily', '22:00', '--keep-daily', '29.5');
    expect(edit.code).toBe(2);
    const policies = JSON.parse(coffer('policy', 'list', '--vault', 'v1', '--json').out) as { name: string; retention: { dailyDays?: number } }[];
    expect(policies.map((p) => p.name)).toEqual(['DefaultPolicy']);
    expect(policies[0]!.retention.dailyDays).toBe(30);
  });
});
