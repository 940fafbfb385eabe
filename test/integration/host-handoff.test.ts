import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { Job } from '../../preload/contract.js';
import { cofferIn, runCofferAsync, startServe } from '../helpers/cli.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const PASSPHRASE = 'correct horse battery';

function folderVm(dir: string): void {
  const vmDir = path.join(dir, 'src', 'rack');
  fs.mkdirSync(vmDir, { recursive: true });
  fs.writeFileSync(path.join(vmDir, 'app01.img'), randomBytes(512 * 1024));
  fs.writeFileSync(
    path.join(vmDir, 'app01.xml'),
    `<domain type='kvm'><name>app01</name><uuid>7a7a7a7a-1111-4222-8333-444455556666</uuid><devices><disk type='file' device='disk'><source file='app01.img'/><target dev='vda'/></disk></devices></domain>`,
  );
}

describe('CLI and a running host on one data folder', () => {
  // About fifteen CLI processes of 2-4 s each on a loaded machine: more than the default 60 s.
  it('hands commands to `coffer serve` instead of opening a second writer', { timeout: 180_000 }, async () => {
    const dir = tmp();
    const data = path.join(dir, 'data');
    const coffer = cofferIn(data, { COFFER_PASSPHRASE: PASSPHRASE });
    folderVm(dir);
    expect(coffer('vault', 'create', 'v1', '--region', 'r1', '--path', path.join(dir, 'vault')).code).toBe(0);

    const host = await startServe(data, ['--no-scheduler']);
    try {
      expect(fs.statSync(path.join(data, 'host.json')).mode & 0o777).toBe(0o600);
      for (const args of [
        ['source', 'add', 'folder', path.join(dir, 'src'), '--region', 'r1'],
        ['vm', 'discover', '--vault', 'v1'],
        ['vm', 'register', '--vault', 'v1', 'app01'],
        ['protect', '--vault', 'v1', '--policy', 'DefaultPolicy', 'app01'],
      ]) {
        const r = coffer(...args);
        expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
      }
      // Failures through the host reach the user with their code, message and remedy.
      const wrong = cofferIn(data, { COFFER_PASSPHRASE: 'not the passphrase' })('vault', 'unlock', 'v1');
      expect(wrong.code).toBe(1);
      expect(wrong.err).toMatch(/coffer: WrongPassphrase: .+\n {2}remedy: .+/);
      const noJob = coffer('job', 'show', '999999');
      expect(noJob.code).toBe(1);
      expect(noJob.err).toMatch(/coffer: JobNotFound: .+\n {2}remedy: .+/);
      // Without --wait the host keeps the job; the CLI returns with it queued or running.
      const queued = coffer('backup', 'now', 'app01', '--json');
      expect(queued.code, queued.err).toBe(0);
      const [job] = JSON.parse(queued.out) as Job[];
      expect(['Queued', 'InProgress', 'Completed']).toContain(job!.status);
      // One job at a time per VM: let the first end before the next Backup Now (bounded poll).
      let status = (JSON.parse(coffer('job', 'show', String(job!.id), '--json').out) as Job).status;
      let polls = 0;
      while (status !== 'Completed') {
        expect(['Queued', 'InProgress'], `job ${job!.id} is ${status}`).toContain(status);
        expect(++polls, `job ${job!.id} did not complete in 200 polls`).toBeLessThan(200);
        status = (JSON.parse(coffer('job', 'show', String(job!.id), '--json').out) as Job).status;
      }
      // The host unlocked the vault once (COFFER_PASSPHRASE given to the CLI), and its engine did the work.
      const waited = coffer('backup', 'now', 'app01', '--wait', '--json');
      expect(waited.code, waited.err).toBe(0);
      expect((JSON.parse(waited.out) as Job[])[0]!.status).toBe('Completed');
      const list = JSON.parse(coffer('job', 'list', '--operation', 'Backup', '--json').out) as Job[];
      expect(list.map((j) => j.status)).toEqual(['Completed', 'Completed']);
    } finally {
      expect(await host.stop()).toBe(0);
    }
    expect(fs.existsSync(path.join(data, 'host.json'))).toBe(false);
    // With the host gone the CLI works on its own again.
    const own = coffer('point', 'list', 'app01', '--json');
    expect(own.code, own.err).toBe(0);
    expect(JSON.parse(own.out)).toHaveLength(2);
  });

  it('sends nothing to a foreign server on the recorded port: it cannot prove it holds the token', async () => {
    const dir = tmp();
    const data = path.join(dir, 'data');
    const coffer = cofferIn(data, { COFFER_PASSPHRASE: PASSPHRASE });
    folderVm(dir);
    expect(coffer('vault', 'create', 'v1', '--region', 'r1', '--path', path.join(dir, 'vault')).code).toBe(0);

    // A stranger's server where the host was: it answers the proof request with a guess, records
    // every request and every WebSocket message, and accepts any socket.
    const seen: string[] = [];
    const foreign = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ proof: 'A'.repeat(43) }));
    });
    const wss = new WebSocketServer({ server: foreign });
    wss.on('connection', (ws, req) => {
      seen.push(`WS ${req.url}`);
      ws.on('message', (m) => seen.push(`MSG ${m.toString()}`));
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    try {
      const port = (foreign.address() as AddressInfo).port;
      // A host record naming a live process (this test's) and the stranger's port.
      fs.writeFileSync(path.join(data, 'host.json'), JSON.stringify({ pid: process.pid, port, token: 'the-real-hosts-token-0123456789abcdefghijklm' }), { mode: 0o600 });
      const r = await runCofferAsync(['--data-dir', data, 'vault', 'unlock', 'v1'], { COFFER_PASSPHRASE: PASSPHRASE });
      expect(r.code, r.err).toBe(0);
      // The CLI asked for a proof once, got a wrong one, and did the work itself.
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(/^GET \/host-proof\?nonce=[A-Za-z0-9_-]{43}$/);
      expect(seen.join('\n')).not.toContain(PASSPHRASE);
      expect(seen.join('\n')).not.toContain('the-real-hosts-token');
    } finally {
      wss.close();
      foreign.closeAllConnections();
      await new Promise((resolve) => foreign.close(resolve));
    }
  });

  it('ignores a host record of a process that is gone', () => {
    const dir = tmp();
    const data = path.join(dir, 'data');
    const coffer = cofferIn(data, { COFFER_PASSPHRASE: PASSPHRASE });
    expect(coffer('vault', 'list').code).toBe(0);
    // PID 2^22+1 is above Linux's pid_max: no process has it.
    fs.writeFileSync(path.join(data, 'host.json'), JSON.stringify({ pid: 4194305, port: 1, token: 'x' }), { mode: 0o600 });
    const r = coffer('vault', 'list', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual([]);
  });
});
