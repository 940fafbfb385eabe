// The headless host package end to end on this machine (root only: it installs a .deb): build it
// offline with `npm run package:host`, install it with dpkg -i, verify its unit with
// systemd-analyze, run the unit's ExecStart as the unit's user with the unit's environment
// (systemd is not PID 1 here), see the console answer on loopback and a scheduled backup run from
// a key file, then purge the package and find nothing left.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../../preload/contract.js';
import { NODE_FLAGS } from '../../scripts/node-flags.mjs';
import { HOST_STOP_GRACE_MS, stopChild } from '../helpers/processes.js';
import { repoRoot } from '../helpers/tmp.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
function whyNotHere(): string | null {
  if (process.platform !== 'linux') return 'the host package is a Debian package (Linux only)';
  if (process.getuid?.() !== 0) return 'installing a .deb needs root (dpkg -i); run this test as root on a disposable machine';
  for (const tool of ['dpkg-deb', 'dpkg', 'systemd-analyze', 'setpriv', 'runuser', 'useradd']) if (!has(tool)) return `${tool} is not installed`;
  if (spawnSync('dpkg', ['-s', 'coffer-host'], { stdio: 'ignore' }).status === 0) return 'coffer-host is already installed on this machine; the test would remove it';
  return null;
}
const skip = whyNotHere();

const run = (cmd: string, args: string[], opts: { input?: string } = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(opts.input === undefined ? {} : { input: opts.input }) });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
};
const ok = (cmd: string, args: string[]) => {
  const r = run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.out}\n${r.err}`);
  return r.out;
};
/** The packaged CLI as the service user, on the service's data folder. */
const asCoffer = (...args: string[]) => ok('runuser', ['-u', 'coffer', '--', '/usr/bin/coffer', ...args]);

/** The lines `Key=value` of the unit's [Service] section, in order. */
function serviceSection(unit: string): [string, string][] {
  const body = unit.split(/^\[Service\]$/m)[1]!.split(/^\[/m)[0]!;
  return body
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}

let serve: ChildProcess | undefined;
let installed = false;
const work = fs.mkdtempSync(path.join(tmpdir(), 'coffer-hostpkg-'));

afterAll(async () => {
  await stopChild(serve, HOST_STOP_GRACE_MS);
  // Whatever happened: the package, its user and its folders go.
  if (installed) run('dpkg', ['--purge', 'coffer-host']);
  fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip !== null)(`the host package (${skip ?? 'root, dpkg and systemd-analyze present'})`, () => {
  it('builds offline, installs, passes systemd-analyze, serves the console as the coffer user, runs a scheduled backup from a key file, and purges clean', { timeout: 600_000 }, async () => {
    // The suite's global setup built dist/; rebuilding it here would rewrite the files other tests run.
    const built = spawnSync(process.execPath, [path.join(repoRoot, 'scripts/package-host.mjs')], { encoding: 'utf8', env: { ...process.env, COFFER_PACKAGE_OUT: work, COFFER_SKIP_BUILD: '1' } });
    expect(built.status, built.stderr).toBe(0);
    const deb = built.stdout.trim().split('\n').at(-1)!;
    expect(fs.existsSync(deb)).toBe(true);
    expect(ok('dpkg-deb', ['-f', deb, 'Depends'])).toMatch(/^nodejs \(>= 20\.19\), nodejs \(<< \d+\), passwd$/m);

    ok('dpkg', ['-i', deb]);
    installed = true;
    // Installing again (an upgrade to the same version) runs postinst again: nothing changes.
    const passwdLine = ok('getent', ['passwd', 'coffer']);
    ok('dpkg', ['-i', deb]);
    expect(ok('getent', ['passwd', 'coffer'])).toBe(passwdLine);
    expect(passwdLine).toMatch(/^coffer:x:\d+:\d+:Coffer backup host:\/var\/lib\/coffer:\/usr\/sbin\/nologin$/m);
    expect(fs.statSync('/var/lib/coffer').mode & 0o777).toBe(0o750);
    expect(fs.statSync('/etc/coffer/keys').mode & 0o777).toBe(0o700);

    const unitFile = '/lib/systemd/system/coffer.service';
    const verify = run('systemd-analyze', ['verify', unitFile]);
    expect(verify.code, verify.err).toBe(0);
    expect(verify.err).not.toMatch(/coffer\.service/);
    const security = serviceSection(fs.readFileSync(unitFile, 'utf8'));
    const value = (k: string) => security.filter(([key]) => key === k).map(([, v]) => v);
    expect(value('ProtectSystem')).toEqual(['strict']);
    expect(value('ReadWritePaths')).toEqual(['/var/lib/coffer']);
    expect(value('CapabilityBoundingSet')).toEqual(['']);
    for (const k of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome']) expect(value(k)).toEqual(['yes']);

    // A VM in a folder, a vault and its key file, set up with the packaged CLI as the service user.
    const src = '/var/lib/coffer/test-src';
    fs.mkdirSync(path.join(src, 'rack1'), { recursive: true });
    fs.writeFileSync(path.join(src, 'rack1/db01.img'), randomBytes(256 * 1024));
    fs.writeFileSync(
      path.join(src, 'rack1/db01.xml'),
      `<domain type='kvm'><name>db01</name><uuid>5e0f8a1c-2222-4333-8444-555566661599</uuid><devices><disk type='file' device='disk'><source file='db01.img'/><target dev='vda'/></disk></devices></domain>`,
    );
    ok('chown', ['-R', 'coffer:coffer', src]);
    const keyFile = '/etc/coffer/keys/team.key';
    fs.writeFileSync(keyFile, 'correct horse battery staple\n', { mode: 0o600 });
    ok('chown', ['coffer:coffer', keyFile]);
    asCoffer('vault', 'create', 'team', '--region', 'r1', '--path', '/var/lib/coffer/vaults/team', '--passphrase-file', keyFile);
    asCoffer('vault', 'remember', 'team', '--key-file', keyFile);
    asCoffer('source', 'add', 'folder', src, '--region', 'r1');
    asCoffer('vm', 'discover', '--vault', 'team');
    asCoffer('vm', 'register', '--vault', 'team', 'db01');
    // Slots at the next two whole minutes of the service's clock (its time zone is the machine's).
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const hhmm = (d: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
    const now = Date.now();
    asCoffer('policy', 'create', 'Soon', '--vault', 'team', '--daily', `${hhmm(new Date(now + 60_000))},${hhmm(new Date(now + 120_000))}`, '--keep-daily', '7');
    asCoffer('protect', '--vault', 'team', '--policy', 'Soon', 'db01');

    // The unit's command, user and environment (EnvironmentFile after Environment, as systemd reads them).
    const env: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: '/var/lib/coffer', LANG: 'C.UTF-8' };
    for (const [k, v] of security) {
      if (k === 'Environment') env[v.slice(0, v.indexOf('='))] = v.slice(v.indexOf('=') + 1);
      if (k === 'EnvironmentFile') {
        const file = v.replace(/^-/, '');
        for (const line of fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : []) {
          const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
          if (m) env[m[1]!] = m[2]!;
        }
      }
    }
    env.COFFER_PORT = '0'; // a free port: this machine may run other consoles
    const [user] = value('User');
    const argv = value('ExecStart')[0]!.split(/\s+/).map((a) => a.replace(/\$\{(\w+)\}/g, (_, n: string) => env[n] ?? ''));
    expect(argv.slice(0, 3 + NODE_FLAGS.length)).toEqual(['/usr/bin/node', ...NODE_FLAGS, '/usr/lib/coffer/dist/cli.mjs', 'serve']);
    // The unit's environment, and stdin open while this process lives: the host stops by itself when it closes.
    serve = spawn('setpriv', ['--reuid', user!, '--regid', user!, '--init-groups', '--no-new-privs', '--', ...argv], { env: { ...env, COFFER_TEST_EXIT_WITH_STDIN: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (b: Buffer) => {
        output += b.toString();
        const m = /Coffer console: (http:\/\/127\.0\.0\.1:\d+\/)#token=/.exec(output);
        if (m) resolve(m[1]!);
      };
      serve!.stdout!.on('data', onData);
      serve!.stderr!.on('data', onData);
      serve!.once('exit', (code) => reject(new Error(`the service exited with ${code}:\n${output}`)));
    });
    expect((await fetch(url)).status).toBe(200);
    const hostFile = JSON.parse(fs.readFileSync('/var/lib/coffer/host.json', 'utf8')) as { pid: number; port: number };
    expect(hostFile.port).toBe(Number(new URL(url).port));
    // The running service's runtime has the engine's V8 flags (scripts/node-flags.mjs).
    expect(fs.readFileSync(`/proc/${hostFile.pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([...NODE_FLAGS]));
    expect(ok('stat', ['-c', '%U', '/var/lib/coffer/host.json']).trim()).toBe('coffer');

    // The scheduler of the service runs the backup at its slot, unlocking the vault from the key file.
    let backup: Job | undefined;
    await expect
      .poll(
        () => {
          const jobs = JSON.parse(asCoffer('job', 'list', '--json')) as Job[] | { jobs: Job[] };
          const list = Array.isArray(jobs) ? jobs : jobs.jobs;
          backup = list.find((j) => j.operation === 'Backup' && j.trigger === 'scheduled' && (j.status === 'Completed' || j.status === 'Failed'));
          return backup && `${backup.status}${backup.error ? `: ${backup.error.code}: ${backup.error.message}` : ''}`;
        },
        { timeout: 300_000, interval: 5_000 },
      )
      .toBe('Completed');
    expect(backup!.vmName).toBe('db01');
    expect(fs.readdirSync('/var/lib/coffer/vaults/team/points').length).toBeGreaterThan(0);

    serve.kill('SIGTERM');
    await new Promise((r) => serve!.once('exit', r));
    serve = undefined;
    expect(fs.existsSync('/var/lib/coffer/host.json')).toBe(false);

    ok('dpkg', ['-r', 'coffer-host']);
    expect(fs.existsSync('/usr/lib/coffer')).toBe(false);
    expect(fs.existsSync('/var/lib/coffer')).toBe(true); // remove keeps the data
    ok('dpkg', ['--purge', 'coffer-host']);
    installed = false;
    for (const p of ['/usr/lib/coffer', '/usr/bin/coffer', '/var/lib/coffer', '/etc/coffer', unitFile]) expect(fs.existsSync(p), p).toBe(false);
    expect(run('getent', ['passwd', 'coffer']).code).not.toBe(0);
    expect(run('getent', ['group', 'coffer']).code).not.toBe(0);
  });
});
