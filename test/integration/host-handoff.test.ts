import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../preload/contract.js';
import { cliPath, repoRoot, useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

describe('CLI and a running host on one data folder', () => {
  it('hands commands to `coffer serve` instead of opening a second writer', async () => {
    const dir = tmp();
    const data = path.join(dir, 'data');
    const env = { ...process.env, COFFER_PASSPHRASE: 'correct horse battery' };
    const coffer = (...args: string[]) => spawnSync(process.execPath, [cliPath, '--data-dir', data, ...args], { encoding: 'utf8', env });
    const vmDir = path.join(dir, 'src', 'rack');
    fs.mkdirSync(vmDir, { recursive: true });
    fs.writeFileSync(path.join(vmDir, 'app01.img'), randomBytes(512 * 1024));
    fs.writeFileSync(
      path.join(vmDir, 'app01.xml'),
      `<domain type='kvm'><name>app01</name><uuid>7a7a7a7a-1111-4222-8333-444455556666</uuid><devices><disk type='file' device='disk'><source file='app01.img'/><target dev='vda'/></disk></devices></domain>`,
    );
    expect(coffer('vault', 'create', 'v1', '--region', 'r1', '--path', path.join(dir, 'vault')).status).toBe(0);

    const host = spawn(process.execPath, [cliPath, '--data-dir', data, 'serve', '--port', '0', '--no-scheduler'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        host.stdout.on('data', (d: Buffer) => d.toString().includes('Coffer console:') && resolve());
        host.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
      expect(fs.statSync(path.join(data, 'host.json')).mode & 0o777).toBe(0o600);
      for (const args of [
        ['source', 'add', 'folder', path.join(dir, 'src'), '--region', 'r1'],
        ['vm', 'discover', '--vault', 'v1'],
        ['vm', 'register', '--vault', 'v1', 'app01'],
        ['protect', '--vault', 'v1', '--policy', 'DefaultPolicy', 'app01'],
      ]) {
        const r = coffer(...args);
        expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
      // Without --wait the host keeps the job; the CLI returns with it queued or running.
      const queued = coffer('backup', 'now', 'app01', '--json');
      expect(queued.status, queued.stderr).toBe(0);
      const [job] = JSON.parse(queued.stdout) as Job[];
      expect(['Queued', 'InProgress', 'Completed']).toContain(job!.status);
      // One job at a time per VM: let the first end before the next Backup Now.
      for (let i = 0; i < 100; i++) {
        const shown = JSON.parse(coffer('job', 'show', String(job!.id), '--json').stdout) as Job;
        if (shown.status === 'Completed') break;
        expect(['Queued', 'InProgress']).toContain(shown.status);
        await new Promise((r) => setTimeout(r, 100));
      }
      // The host unlocked the vault once (COFFER_PASSPHRASE given to the CLI), and its engine did the work.
      const waited = coffer('backup', 'now', 'app01', '--wait', '--json');
      expect(waited.status, waited.stderr).toBe(0);
      expect((JSON.parse(waited.stdout) as Job[])[0]!.status).toBe('Completed');
      const list = JSON.parse(coffer('job', 'list', '--operation', 'Backup', '--json').stdout) as Job[];
      expect(list.map((j) => j.status)).toEqual(['Completed', 'Completed']);
    } finally {
      host.kill('SIGTERM');
      await new Promise((resolve) => host.once('exit', resolve));
    }
    expect(fs.existsSync(path.join(data, 'host.json'))).toBe(false);
    // With the host gone the CLI works on its own again.
    const own = coffer('point', 'list', 'app01', '--json');
    expect(own.status, own.stderr).toBe(0);
    expect(JSON.parse(own.stdout)).toHaveLength(2);
  });
});
