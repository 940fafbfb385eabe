import { CofferError } from '../core/errors.js';
import type { CliIo } from './io.js';

/**
 * The one rule of the CLI's destructive commands (`protection stop --delete-data`, `vm
 * unregister`): the answer comes from its flag, else it is asked in a terminal; without a
 * terminal and without the flag the command is refused (InvalidArgument, naming the flag), so a
 * script never destroys by default. Returns the answer (the typed-back name, or "yes").
 */
export async function confirmation(io: CliIo, opts: { given: string | undefined; question: string; refused: string; flag: string }): Promise<string> {
  const answer = opts.given ?? (io.interactive ? await io.ask(opts.question) : undefined);
  if (answer === undefined) {
    throw new CofferError('InvalidArgument', opts.refused, { field: opts.flag.replace(/^--/, '').replace(/ .*/, '') }, `Run the command in a terminal to be asked, or pass ${opts.flag}.`);
  }
  return answer;
}

/** A yes/no confirmation under the same rule: `--yes`, or "y"/"yes" typed in a terminal. */
export async function confirmedYes(io: CliIo, yes: boolean | undefined, question: string, refused: string): Promise<boolean> {
  const a = await confirmation(io, { given: yes ? 'yes' : undefined, question: `${question} [y/N] `, refused, flag: '--yes' });
  return /^\s*y(es)?\s*$/i.test(a);
}
