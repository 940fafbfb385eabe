import * as readline from 'node:readline';
import { InvalidArgumentError } from 'commander';
import { diskCount, vmLabel, englishJobText, type ApiError, type ArgsOf, type Job, type MethodName, type Result, type ResultOf, type Vm } from '../../preload/contract.js';
import { formatBytes } from '../../preload/units.js';
import { printTable } from './format.js';

/** Streams the CLI writes to and the terminal it may ask on; tests pass their own. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Raw bytes to stdout (`coffer files cat`); an io without it gets them as UTF-8 text. */
  outBytes?: (bytes: Uint8Array) => void;
  /** Whether a person at a terminal can be asked (stdin is a TTY). */
  interactive: boolean;
  /** Asks one question on the terminal; `secret` echoes nothing while it is typed. */
  ask: (question: string, opts?: { secret?: boolean }) => Promise<string>;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  outBytes: (b) => process.stdout.write(b),
  get interactive() {
    return process.stdin.isTTY === true;
  },
  ask: (question, opts) =>
    new Promise((resolve) => {
      const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
      // Echo nothing while a secret is typed.
      if (opts?.secret) (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
      process.stdout.write(question);
      rl.question('', (answer) => {
        rl.close();
        if (opts?.secret) process.stdout.write('\n');
        resolve(answer);
      });
    }),
};

/** Where commands go: this process's own engine, or a running host over its WebSocket. */
export interface Session {
  invoke<M extends MethodName>(method: M, args: ArgsOf<M>): Promise<Result<ResultOf<M>>>;
  waitJob(id: number): Promise<Job>;
  /** Whether a separate host runs the jobs (then the CLI need not wait for them). */
  readonly remote: boolean;
  close(): Promise<void>;
}

/** A failed operation: exit 1 (2 for InvalidArgument) with the code, message and remedy on stderr. */
export class OperationFailed extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

/** What every command module gets: the call into the API and the shared ways to print and wait. */
export interface Cli {
  readonly io: CliIo;
  /** The resolved data folder (--data-dir, COFFER_DATA_DIR or the default). */
  dataDir(): string;
  session(): Promise<Session>;
  /** Makes `session` this one (used by `coffer serve`, whose own engine answers). */
  useSession(session: Session): void;
  /** Calls the API; a failed result throws OperationFailed. */
  call<M extends MethodName>(method: M, args: ArgsOf<M>): Promise<ResultOf<M>>;
  /** Unlocks the locked vaults the named vaults/VMs need, asking for each passphrase. */
  unlock(needs: { vaults?: string[]; vms?: string[] }, passphraseFile?: string): Promise<void>;
  /** Waits for the jobs, prints each (unless --json), and fails on a failed or cancelled one. */
  waitFor(jobs: Job[], json?: boolean): Promise<Job[]>;
  /** With --wait (and always when this process runs the jobs) wait, else print the queued jobs. */
  finish(jobs: Job[], o: { wait?: boolean | undefined; json?: boolean | undefined }): Promise<void>;
  print(value: unknown, json: boolean | undefined, human: () => void): void;
}

export function describeJob(j: Job): string {
  const subject = [j.vaultName, j.vmName && vmLabel({ name: j.vmName, cloudService: j.cloudService })].filter(Boolean).join(' ');
  const lines = [`Job ${j.id} ${j.operation}${subject ? ` ${subject}` : ''}: ${j.status}${j.summary ? ` - ${jobText(j.summary)}` : ''}`];
  if (j.trigger !== 'manual') lines.push(`  trigger ${j.trigger}`);
  if (j.bytesTotal > 0) lines.push(`  progress ${(j.progress * 100).toFixed(0)}%, ${formatBytes(j.bytesDone)} of ${formatBytes(j.bytesTotal)}`);
  for (const w of j.warnings) lines.push(`  warning ${w.code}: ${w.message}`);
  if (j.error) lines.push(`  error ${j.error.code}: ${j.error.message}`, `  remedy: ${j.error.remedy}`);
  return lines.join('\n');
}

export function printVms(out: (t: string) => void, vms: Vm[]): void {
  printTable(
    out,
    ['NAME', 'CLOUD SERVICE', 'REGION', 'SOURCE', 'POWER', 'DISKS', 'VAULT', 'STATE'],
    vms.map((v) => [
      v.name,
      v.cloudService,
      v.region,
      v.sourceName,
      v.powerState,
      String(diskCount(v)),
      v.vaultName ?? '',
      v.missing ? 'SourceVmMissing' : (v.protectionState ?? v.registrationState),
    ]),
  );
}

/** An error as the user reads it on stderr: code, message and remedy. */
export function formatError(error: ApiError): string {
  return `coffer: ${error.code}: ${error.message}\n  remedy: ${error.remedy}\n`;
}

/** Parses a comma-separated option whose items are values of one of the contract's vocabularies (a usage error names them). */
export function listOf<T extends string>(values: readonly T[]): (value: string) => T[] {
  return (value) => {
    const items = value.split(',').map((v) => v.trim());
    const bad = items.filter((v) => !(values as readonly string[]).includes(v));
    if (bad.length) throw new InvalidArgumentError(`${bad.join(', ')}: not one of ${values.join(', ')}`);
    return items as T[];
  };
}

/** A job's result in English, the CLI's language. */
export const jobText = englishJobText;
