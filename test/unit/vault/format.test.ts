import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { ChunkIndex } from '../../../main/core/vault/chunk-index.js';
import { open, seal } from '../../../main/core/vault/crypto.js';
import { decodeIndex, encodeIndex, newPointId, POINT_ID_RE } from '../../../main/core/vault/format.js';
import { safeJoin } from '../../../main/core/vault/restore.js';

describe('chunk index', () => {
  it('finds every id among 200k and nothing else', () => {
    const idx = new ChunkIndex();
    const ids = randomBytes(200_000 * 32);
    for (let i = 0; i < 200_000; i++) idx.add(ids, i * 32, { pack: `p${i % 7}`, offset: i, length: i + 1, rawLength: 65536, flags: i & 1 });
    expect(idx.size).toBe(200_000);
    for (let i = 0; i < 200_000; i += 997) expect(idx.get(ids, i * 32)).toEqual({ pack: `p${i % 7}`, offset: i, length: i + 1, rawLength: 65536, flags: i & 1 });
    expect(idx.has(randomBytes(32))).toBe(false);
    // The first stored copy wins.
    expect(idx.add(ids, 0, { pack: 'other', offset: 0, length: 0, rawLength: 0, flags: 0 })).toBe(false);
    expect(idx.get(ids, 0)!.pack).toBe('p0');
  });
});

describe('format', () => {
  it('round-trips index objects', () => {
    const packId = randomBytes(16).toString('hex');
    const entries = [0, 1, 2].map((i) => ({ id: randomBytes(32), offset: 8 + i * 100, length: 100, rawLength: 65536, flags: i % 2 }));
    const d = decodeIndex(encodeIndex(packId, entries));
    expect(d.packId).toBe(packId);
    expect(d.count).toBe(3);
    expect(d.ids.subarray(32, 64)).toEqual(entries[1]!.id);
    expect([...d.offsets]).toEqual([8, 108, 208]);
    expect([...d.flags]).toEqual([0, 1, 0]);
    expect(() => decodeIndex(Buffer.from('nope'))).toThrow();
  });

  it('authenticates sealed blobs and binds them to their AAD', () => {
    const key = randomBytes(32);
    const blob = seal(key, Buffer.from('secret'), Buffer.from('a'));
    expect(open(key, blob, Buffer.from('a')).toString()).toBe('secret');
    for (const bad of [
      () => open(key, blob, Buffer.from('b')),
      () => open(randomBytes(32), blob, Buffer.from('a')),
      () => open(key, Buffer.concat([blob.subarray(0, 13), Buffer.from([blob[13]! ^ 1]), blob.subarray(14)]), Buffer.from('a')),
    ]) {
      let err: unknown;
      try {
        bad();
      } catch (e) {
        err = e;
      }
      expect(isCofferError(err, 'ChunkCorrupt')).toBe(true);
    }
  });

  it('makes point ids that sort by time', () => {
    const a = newPointId(new Date('2025-01-01T00:00:00.000Z'));
    const b = newPointId(new Date('2025-01-01T00:00:00.001Z'));
    expect(a).toMatch(POINT_ID_RE);
    expect(a < b).toBe(true);
  });

  it('never joins a manifest name outside the restore folder', () => {
    expect(safeJoin('/tmp/t', 'disk.img')).toBe('/tmp/t/disk.img');
    for (const name of ['../x', '..', '.', 'a/b', '/etc/passwd', 'a\\b']) {
      let err: unknown;
      try {
        safeJoin('/tmp/t', name);
      } catch (e) {
        err = e;
      }
      expect(isCofferError(err), name).toBe(true);
    }
  });
});
