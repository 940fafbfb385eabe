import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { CofferError } from '../core/errors.js';
import type { CliIo } from './program.js';

export interface PassphraseOptions {
  file?: string | undefined;
  /** Ask twice when prompting, so a typo cannot lock the admin out of a new vault. */
  confirm: boolean;
  io: CliIo;
  prompt?: string;
}

/** COFFER_PASSPHRASE, then --passphrase-file, then an interactive prompt that does not echo. */
export async function readPassphrase(opts: PassphraseOptions): Promise<string> {
  if (opts.file) {
    try {
      return fs.readFileSync(opts.file, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (e) {
      throw new CofferError('InvalidArgument', `Cannot read the passphrase file ${opts.file}: ${(e as Error).message}`);
    }
  }
  const fromEnv = process.env.COFFER_PASSPHRASE;
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new CofferError(
      'InvalidArgument',
      'No passphrase given.',
      undefined,
      'Set COFFER_PASSPHRASE, pass --passphrase-file FILE, or run the command in a terminal to be asked.',
    );
  }
  const first = await prompt(opts.prompt ?? 'Vault passphrase: ', opts.io);
  if (opts.confirm) {
    const second = await prompt('Repeat passphrase: ', opts.io);
    if (first !== second) throw new CofferError('InvalidArgument', 'The two passphrases differ.', undefined, 'Run the command again.');
  }
  return first;
}

function prompt(question: string, io: CliIo): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    // Echo nothing while the passphrase is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
    io.out(question);
    rl.question('', (answer) => {
      rl.close();
      io.out('\n');
      resolve(answer);
    });
  });
}
