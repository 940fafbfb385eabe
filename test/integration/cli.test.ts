import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { cliPath, repoRoot, useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

function coffer(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, COFFER_PASSPHRASE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('coffer CLI (child process)', () => {
  it('creates, lists, shows and deletes a vault with the documented exit codes', () => {
    const dir = tmp();
    const data = path.join(dir, 'data');
    const vaultDir = path.join(dir, 'vaults', 'ams');
    const env = { COFFER_PASSPHRASE: 'correct horse battery' };

    const created = coffer(['--data-dir', data, 'vault', 'create', 'vault-ams', '--region', 'lab-amsterdam', '--path', vaultDir], env);
    expect(created.err).toBe('');
    expect(created.code).toBe(0);
    expect(created.out).toContain('Vault vault-ams created in region lab-amsterdam');
    expect(fs.existsSync(path.join(vaultDir, 'config'))).toBe(true);

    const list = coffer(['--data-dir', data, 'vault', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toEqual([expect.objectContaining({ name: 'vault-ams', region: 'lab-amsterdam', location: vaultDir })]);
    // A new process has no key in memory: the vault is listed as locked.
    expect(JSON.parse(list.out)[0].unlocked).toBe(false);

    const table = coffer(['--data-dir', data, 'vault', 'list']);
    expect(table.out).toMatch(/NAME\s+REGION\s+LOCATION/);
    expect(table.out).toContain('vault-ams');

    const shown = coffer(['--data-dir', data, 'vault', 'show', 'vault-ams', '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({ name: 'vault-ams', pointCount: 0, policies: [{ name: 'DefaultPolicy' }] });
    expect(coffer(['--data-dir', data, 'vault', 'show', 'vault-ams']).out).toMatch(/Recovery points:\s+0/);

    const dup = coffer(['--data-dir', data, 'vault', 'create', 'VAULT-ams', '--region', 'r1', '--path', path.join(dir, 'v2')], env);
    expect(dup.code).toBe(1);
    expect(dup.err).toContain('VaultNameTaken');
    expect(dup.err).toContain('remedy:');

    const deleted = coffer(['--data-dir', data, 'vault', 'delete', 'vault-ams']);
    expect(deleted.code).toBe(0);
    expect(deleted.out).toContain('its data stays at');
    expect(JSON.parse(coffer(['--data-dir', data, 'vault', 'list', '--json']).out)).toEqual([]);
    expect(coffer(['--data-dir', data, 'vault', 'show', 'vault-ams']).code).toBe(1);
  });

  it('exits 2 on usage errors and bad values, 1 when no passphrase can be had', () => {
    const data = path.join(tmp(), 'data');
    const missing = coffer(['--data-dir', data, 'vault', 'create', 'v1', '--path', '/tmp/x']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--region');
    expect(coffer(['--data-dir', data, 'vault', 'frobnicate']).code).toBe(2);
    const badName = coffer(['--data-dir', data, 'vault', 'create', '1bad', '--region', 'r', '--path', '/tmp/coffer-nope'], {
      COFFER_PASSPHRASE: 'correct horse battery',
    });
    expect(badName.code).toBe(2);
    expect(badName.err).toContain('InvalidArgument');
    expect(badName.err).toContain('name');
    const noPass = coffer(['--data-dir', data, 'vault', 'create', 'v1', '--region', 'r', '--path', path.join(data, 'v')]);
    expect(noPass.code).toBe(2);
    expect(noPass.err).toContain('COFFER_PASSPHRASE');
  });

  it('reads the passphrase from --passphrase-file and honours COFFER_DATA_DIR', () => {
    const dir = tmp();
    const file = path.join(dir, 'pass.txt');
    fs.writeFileSync(file, 'file passphrase 123\n', { mode: 0o600 });
    const env = { COFFER_DATA_DIR: path.join(dir, 'data') };
    const r = coffer(['vault', 'create', 'from-file', '--region', 'r1', '--path', path.join(dir, 'v'), '--passphrase-file', file], env);
    expect(r.code, r.err).toBe(0);
    expect(fs.existsSync(path.join(dir, 'data', 'catalog.sqlite'))).toBe(true);
  });
});

describe('coffer serve', () => {
  it('listens on loopback with a token, refuses strangers and answers the API over the WebSocket', async () => {
    const dir = tmp();
    const child = spawn(process.execPath, [cliPath, '--data-dir', path.join(dir, 'data'), 'serve', '--port', '0'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          const m = /Coffer console: (\S+)\n/.exec(buf);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
      const url = new URL(line);
      expect(url.hostname).toBe('127.0.0.1');
      const token = url.searchParams.get('token')!;
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const base = `http://127.0.0.1:${url.port}`;

      expect((await fetch(`${base}/`)).status).toBe(401);
      expect((await fetch(`${base}/?token=${'x'.repeat(43)}`)).status).toBe(401);
      expect((await fetch(`${base}/?token=${token}`, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
      const page = await fetch(`${base}/?token=${token}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('set-cookie')).toContain('HttpOnly');
      expect(await page.text()).toContain('web-bridge.js');

      // A foreign page cannot open the socket, even with the token.
      const foreign = new WebSocket(`ws://127.0.0.1:${url.port}/ws?token=${token}`, { origin: 'http://evil.example' });
      const refused = await new Promise<number>((resolve) => foreign.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
      expect(refused).toBe(403);

      const ws = new WebSocket(`ws://127.0.0.1:${url.port}/ws?token=${token}`, { origin: base });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const replies: unknown[] = [];
      const got = new Promise<void>((resolve) =>
        ws.on('message', (d) => {
          replies.push(JSON.parse(d.toString()));
          if (replies.length === 3) resolve();
        }),
      );
      ws.send(JSON.stringify({ id: 1, method: 'listVaults', args: {} }));
      ws.send(JSON.stringify({ id: 2, method: 'createVault', args: { name: 'x' } }));
      ws.send('not json');
      await got;
      expect(replies).toContainEqual({ id: 1, result: { ok: true, value: [] } });
      expect(replies).toContainEqual({ id: 2, result: { ok: false, error: expect.objectContaining({ code: 'InvalidArgument' }) } });
      expect(replies).toContainEqual({ id: null, result: { ok: false, error: expect.objectContaining({ code: 'InvalidArgument' }) } });
      ws.close();
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
    expect(code).toBe(0);
  });
});
