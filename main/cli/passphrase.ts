import * as fs from 'node:fs';
import { CofferError } from '../core/errors.js';
import type { CliIo } from './io.js';

export interface PassphraseOptions {
  file?: string | undefined;
  /** Ask twice when prompting, so a typo cannot lock the admin out of a new vault. */
  confirm: boolean;
  io: CliIo;
  prompt?: string;
}

const NO_PASSPHRASE_REMEDY = 'Set COFFER_PASSPHRASE, pass --passphrase-file FILE, or run the command in a terminal to be asked.';

/** --passphrase-file, then COFFER_PASSPHRASE, then a prompt that does not echo; none of them: InvalidArgument. */
export async function readPassphrase(opts: PassphraseOptions): Promise<string> {
  const found = await findPassphrase(opts);
  if (found === undefined) throw new CofferError('InvalidArgument', 'No passphrase given.', undefined, NO_PASSPHRASE_REMEDY);
  return found;
}

/**
 * The same sources, but undefined when none is there at all (a job may still unlock the vault from
 * a remembered key). An unreadable file or two different answers are errors, never swallowed.
 */
export async function findPassphrase(opts: PassphraseOptions): Promise<string | undefined> {
  if (opts.file) {
    try {
      return fs.readFileSync(opts.file, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (e) {
      throw new CofferError('InvalidArgument', `Cannot read the passphrase file ${opts.file}: ${(e as Error).message}`, { field: 'passphraseFile' });
    }
  }
  const fromEnv = process.env.COFFER_PASSPHRASE;
  if (fromEnv) return fromEnv;
  if (!opts.io.interactive) return undefined;
  const first = await opts.io.ask(opts.prompt ?? 'Vault passphrase: ', { secret: true });
  if (opts.confirm) {
    const second = await opts.io.ask('Repeat passphrase: ', { secret: true });
    if (first !== second) throw new CofferError('InvalidArgument', 'The two passphrases differ.', undefined, 'Run the command again.');
  }
  return first;
}
