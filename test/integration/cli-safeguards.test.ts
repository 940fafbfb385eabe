// The CLI's safeguards, run in-process with runCli and a scripted terminal: the typed-back name
// before deleting recovery points (bug 2), passphrase errors that reach the user (bug 5), and
// --retain-until DATE as the end of that local day (bug 3), and the confirmation of vm unregister.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RecoveryPoint } from '../../preload/contract.js';
import { endOfLocalDay } from '../../main/core/policy/retention.js';
import { runCli } from '../../main/cli/program.js';
import type { CliIo } from '../../main/cli/io.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

/** A terminal that answers each question in turn (or none: not a TTY). */
function terminal(answers?: string[]): CliIo & { text: () => string; errors: () => string; asked: string[] } {
  let out = '';
  let err = '';
  const asked: string[] = [];
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    interactive: answers !== undefined,
    ask: async (q) => {
      asked.push(q);
      return answers?.shift() ?? '';
    },
    text: () => out,
    errors: () => err,
    asked,
  };
}

async function protectedVmWithPoint(): Promise<{ data: string; pass: string; run: (args: string[], io?: CliIo) => Promise<number> }> {
  const dir = tmp();
  const data = path.join(dir, 'data');
  const pass = path.join(dir, 'pass.txt');
  fs.writeFileSync(pass, 'correct horse battery\n', { mode: 0o600 });
  const vmDir = path.join(dir, 'src', 'rack');
  fs.mkdirSync(vmDir, { recursive: true });
  fs.writeFileSync(path.join(vmDir, 'app01.img'), randomBytes(256 * 1024));
  fs.writeFileSync(
    path.join(vmDir, 'app01.xml'),
    `<domain type='kvm'><name>app01</name><uuid>7a7a7a7a-1111-4222-8333-444455556666</uuid><devices><disk type='file' device='disk'><source file='app01.img'/><target dev='vda'/></disk></devices></domain>`,
  );
  const run = (args: string[], io: CliIo = terminal()) => runCli(['--data-dir', data, ...args], io);
  for (const args of [
    ['vault', 'create', 'v1', '--region', 'r1', '--path', path.join(dir, 'vault'), '--passphrase-file', pass],
    ['source', 'add', 'folder', path.join(dir, 'src'), '--region', 'r1'],
    ['vm', 'discover', '--vault', 'v1'],
    ['vm', 'register', '--vault', 'v1', 'app01'],
    ['protect', '--vault', 'v1', '--policy', 'DefaultPolicy', 'app01'],
    ['backup', 'now', 'app01', '--wait', '--passphrase-file', pass],
  ]) {
    const io = terminal();
    expect(await run(args, io), `${args.join(' ')}: ${io.errors()}`).toBe(0);
  }
  return { data, pass, run };
}

async function points(run: (args: string[], io?: CliIo) => Promise<number>): Promise<RecoveryPoint[]> {
  const io = terminal();
  expect(await run(['point', 'list', 'app01', '--json'], io)).toBe(0);
  return JSON.parse(io.text()) as RecoveryPoint[];
}

describe('coffer protection stop --delete-data', () => {
  it('refuses with exit 2 when there is no terminal and no --confirm, and deletes nothing', async () => {
    const { pass, run } = await protectedVmWithPoint();
    const io = terminal();
    expect(await run(['protection', 'stop', 'app01', '--delete-data', '--passphrase-file', pass], io)).toBe(2);
    expect(io.errors()).toContain('InvalidArgument');
    expect(io.errors()).toContain('--confirm');
    expect(await points(run)).toHaveLength(1);
  });

  it("asks for the VM's name on a terminal: a wrong answer deletes nothing, the right one deletes", async () => {
    const { pass, run } = await protectedVmWithPoint();
    const wrong = terminal(['app02']);
    expect(await run(['protection', 'stop', 'app01', '--delete-data', '--passphrase-file', pass], wrong)).toBe(2);
    expect(wrong.asked.join()).toContain("Type the VM's name");
    expect(wrong.errors()).toMatch(/InvalidArgument: .*type its name "app01"/);
    expect(await points(run)).toHaveLength(1);

    const right = terminal(['app01']);
    expect(await run(['protection', 'stop', 'app01', '--delete-data', '--passphrase-file', pass], right), right.errors()).toBe(0);
    expect(await points(run)).toHaveLength(0);
  });

  it('takes the name from --confirm NAME and checks it', async () => {
    const { pass, run } = await protectedVmWithPoint();
    const io = terminal();
    expect(await run(['protection', 'stop', 'app01', '--delete-data', '--confirm', 'nope', '--passphrase-file', pass], io)).toBe(2);
    expect(await points(run)).toHaveLength(1);
    expect(await run(['protection', 'stop', 'app01', '--delete-data', '--confirm', 'app01', '--passphrase-file', pass])).toBe(0);
    expect(await points(run)).toHaveLength(0);
  });
});

describe('passphrases and dates reach the core as the user meant them', () => {
  it('an unreadable passphrase file or a wrong passphrase fails with its code and remedy', async () => {
    const { run } = await protectedVmWithPoint();
    const missing = terminal();
    expect(await run(['backup', 'now', 'app01', '--wait', '--passphrase-file', '/nonexistent/pass.txt'], missing)).toBe(2);
    expect(missing.errors()).toMatch(/InvalidArgument: Cannot read the passphrase file \/nonexistent\/pass.txt/);
    expect(missing.errors()).toContain('remedy:');

    const wrong = terminal(['not the passphrase']);
    expect(await run(['backup', 'now', 'app01', '--wait'], wrong)).toBe(1);
    expect(wrong.errors()).toContain('WrongPassphrase');
    expect(wrong.errors()).toContain('remedy:');
  });

  it('--retain-until DATE keeps the point to the end of that local day', async () => {
    const { pass, run } = await protectedVmWithPoint();
    const day = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    expect(await run(['backup', 'now', 'app01', '--wait', '--retain-until', day, '--passphrase-file', pass])).toBe(0);
    const [latest] = await points(run);
    expect(latest!.retainUntil).toBe(endOfLocalDay(day, Intl.DateTimeFormat().resolvedOptions().timeZone).toISOString());
    const end = new Date(latest!.retainUntil!);
    expect([end.getHours(), end.getMinutes(), end.getSeconds()]).toEqual([23, 59, 59]);
  });
});

describe('coffer vm unregister', () => {
  const registered = async (run: (args: string[], io?: CliIo) => Promise<number>) => {
    const io = terminal();
    expect(await run(['vm', 'list', '--vault', 'v1', '--json'], io)).toBe(0);
    return (JSON.parse(io.text()) as { name: string }[]).map((v) => v.name);
  };

  it('asks on a terminal (under the same rule as --delete-data): "n" keeps the VM, "y" unregisters it and keeps its points', async () => {
    const { pass, run } = await protectedVmWithPoint();
    expect(await run(['protection', 'stop', 'app01', '--keep-data', '--passphrase-file', pass])).toBe(0);
    const script = terminal();
    expect(await run(['vm', 'unregister', '--vault', 'v1', 'app01'], script)).toBe(2);
    expect(script.errors()).toContain('--yes');
    const no = terminal(['n']);
    expect(await run(['vm', 'unregister', '--vault', 'v1', 'app01'], no)).toBe(0);
    expect(no.asked[0]).toContain('Their recovery points stay in the vault');
    expect(no.text()).toContain('Nothing unregistered.');
    expect(await registered(run)).toEqual(['app01']);
    const yes = terminal(['y']);
    expect(await run(['vm', 'unregister', '--vault', 'v1', 'app01'], yes), yes.errors()).toBe(0);
    expect(await registered(run)).toEqual([]);
    // Its point stayed in the vault: registered again, the VM has it.
    expect(await run(['vm', 'register', '--vault', 'v1', 'app01'])).toBe(0);
    expect(await points(run)).toHaveLength(1);
  });
});
