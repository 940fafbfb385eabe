import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runCoffer as coffer, startServe } from '../helpers/cli.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

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
    // A job status or operation the contract does not know is a usage error naming the known ones.
    const badStatus = coffer(['--data-dir', data, 'job', 'list', '--status', 'Failed,Done']);
    expect(badStatus.code).toBe(2);
    expect(badStatus.err).toMatch(/Done: not one of Queued, InProgress/);
    expect(coffer(['--data-dir', data, 'job', 'list', '--status', 'Failed', '--operation', 'Backup']).code).toBe(0);
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
  it('listens on loopback, keeps the token out of every request but the socket, and answers the API over the WebSocket', async () => {
    const host = await startServe(path.join(tmp(), 'data'));
    const { url } = host;
    try {
      expect(url.hostname).toBe('127.0.0.1');
      // The token travels in the fragment, which the browser never sends to any server.
      expect(url.search).toBe('');
      const token = new URLSearchParams(url.hash.slice(1)).get('token')!;
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const base = `http://127.0.0.1:${url.port}`;

      // The static console is public and sets no cookie (cookies ignore ports: any local server would get it).
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('set-cookie')).toBeNull();
      expect(await page.text()).toContain('web-bridge.js');
      expect((await fetch(`${base}/`, { headers: { origin: 'http://evil.example' } })).status).toBe(403);

      const status = (wsUrl: string, origin: string) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(wsUrl, { origin });
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.on('open', () => {
            ws.close();
            resolve(101);
          });
        });
      // A foreign page cannot open the socket, even with the token; without the token nobody can.
      expect(await status(`ws://127.0.0.1:${url.port}/ws?token=${token}`, 'http://evil.example')).toBe(403);
      expect(await status(`ws://127.0.0.1:${url.port}/ws`, base)).toBe(401);
      expect(await status(`ws://127.0.0.1:${url.port}/ws?token=${'x'.repeat(43)}`, base)).toBe(401);

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
      expect(await host.stop()).toBe(0);
    }
  });
});
