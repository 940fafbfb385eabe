import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cachingIndexWrites, IndexCache } from '../../../main/core/vault/index-cache.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import type { PutOptions } from '../../../main/core/vault/storage.js';
import { tempDir } from './helpers.js';

// The store as a vault with an index cache sees it (every install's vault has one): it must pass
// through what the store it wraps offers, or the engine silently takes the slow path.
let dir: string;
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

// O_DIRECT: Linux, and a folder on a real filesystem (tmpfs pages are the page cache).
const direct = process.platform === 'linux' && spawnSync('fincore', ['--version']).status === 0 && spawnSync('stat', ['-f', '-c', '%T', os.tmpdir()], { encoding: 'utf8' }).stdout.trim() !== 'tmpfs';

describe('a vault store with an index cache', () => {
  it.skipIf(!direct)('writes packs past the page cache as the bare local folder does (needs fincore and a non-tmpfs temp folder)', async () => {
    dir = tempDir();
    const store = cachingIndexWrites(new LocalFolderStore(path.join(dir, 'vault')), new IndexCache(path.join(dir, 'cache')));
    expect(store.allocPutBuffer).toBeTypeOf('function');
    const pack = store.allocPutBuffer!(4 * 1024 * 1024 + 100);
    for (let i = 0; i < pack.length; i++) pack[i] = (i * 31) & 0xff;
    const key = 'packs/ab/ab' + '0'.repeat(30);
    await store.put(key, pack);
    const file = path.join(dir, 'vault', ...key.split('/'));
    const resident = Number(spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).stdout.trim());
    expect(resident).toBeLessThan(64 * 1024);
    expect(fs.readFileSync(file).equals(pack)).toBe(true);
  });

  it('passes put options through (a lock written without fsync stays without one)', async () => {
    dir = tempDir();
    const inner = new LocalFolderStore(path.join(dir, 'vault'));
    const seen: Array<PutOptions | undefined> = [];
    const put = inner.put.bind(inner);
    inner.put = (key, data, opts) => {
      seen.push(opts);
      return put(key, data, opts);
    };
    const store = cachingIndexWrites(inner, new IndexCache(path.join(dir, 'cache')));
    await store.put('locks/x', Buffer.from('{}'), { durable: false });
    expect(seen).toEqual([{ durable: false }]);
    expect(fs.readFileSync(path.join(dir, 'vault', 'locks', 'x'), 'utf8')).toBe('{}');
  });
});
