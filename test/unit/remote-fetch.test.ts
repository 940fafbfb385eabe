import { describe, expect, it } from 'vitest';
import { PackBatcher } from '../../main/core/vault/remote-fetch.js';
import { REMOTE_IO_HINTS } from '../../main/core/vault/remote.js';

interface Item {
  chunk: number;
  loc: { pack: string; offset: number; length: number; rawLength: number; flags: number };
}

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 128 * KiB;

/** A disk of n chunks stored the way a backup's workers leave them: packs of `perPack` chunks, segments of 32 chunks finishing out of order. */
function layout(n: number, perPack: number): Item[] {
  const segs = Math.ceil(n / 32);
  const order: number[] = [];
  for (let s = 0; s < segs; s += 2) order.push(s + 1 < segs ? s + 1 : s, ...(s + 1 < segs ? [s] : []));
  const items: Item[] = new Array<Item>(n);
  let k = 0;
  for (const s of order) {
    for (let c = s * 32; c < Math.min(n, (s + 1) * 32); c++, k++) {
      items[c] = { chunk: c, loc: { pack: `p${String(Math.floor(k / perPack)).padStart(4, '0')}`, offset: 8 + (k % perPack) * CHUNK, length: CHUNK, rawLength: CHUNK, flags: 0 } };
    }
  }
  return items;
}

/** Ranged GETs a batch needs: one per run of adjacent chunks of one pack. */
function gets(batch: Item[]): number {
  const sorted = [...batch].sort((a, b) => (a.loc.pack < b.loc.pack ? -1 : a.loc.pack > b.loc.pack ? 1 : a.loc.offset - b.loc.offset));
  let n = 0;
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i - 1];
    const c = sorted[i]!;
    if (!p || p.loc.pack !== c.loc.pack || p.loc.offset + p.loc.length !== c.loc.offset) n++;
  }
  return n;
}

function run(items: Item[], batchBytes: number): Item[][] {
  const b = new PackBatcher<Item>(batchBytes);
  const out: Item[][] = [];
  for (const it of items) out.push(...b.add(it));
  out.push(...b.flush());
  return out;
}

describe('PackBatcher (restore batches on object storage)', () => {
  it('hands out every chunk exactly once, in batches no bigger than the limit plus one chunk', () => {
    const items = layout(2048, 130);
    const batches = run(items, REMOTE_IO_HINTS.readBatchBytes);
    const seen = batches.flat().map((i) => i.chunk).sort((a, b) => a - b);
    expect(seen).toEqual(items.map((i) => i.chunk));
    for (const b of batches) expect(b.reduce((s, i) => s + i.loc.length, 0)).toBeLessThanOrEqual(REMOTE_IO_HINTS.readBatchBytes + CHUNK);
  });

  it('reads each pack with about one GET, where batches cut in disk order need about two', () => {
    const items = layout(8192, 130); // 1 GiB of 128 KiB chunks, packs of 130 chunks
    const packs = new Set(items.map((i) => i.loc.pack)).size;
    const byPack = run(items, REMOTE_IO_HINTS.readBatchBytes).reduce((n, b) => n + gets(b), 0);
    const inOrder: Item[][] = [];
    for (let i = 0; i < items.length; i += 128) inOrder.push(items.slice(i, i + 128));
    const diskOrder = inOrder.reduce((n, b) => n + gets(b), 0);
    expect(byPack).toBeLessThanOrEqual(Math.ceil(packs * 1.15));
    expect(diskOrder).toBeGreaterThan(packs * 1.5);
  });

  it('keeps a chunk that repeats across the disk (one location, many places) in every batch that needs it', () => {
    const items: Item[] = Array.from({ length: 1000 }, (_, c) => ({ chunk: c, loc: { pack: c % 2 ? 'same' : `p${c}`, offset: c % 2 ? 8 : 8 + c * CHUNK, length: CHUNK, rawLength: CHUNK, flags: 0 } }));
    const batches = run(items, 4 * MiB);
    expect(batches.flat().length).toBe(1000);
    expect(batches.flat().filter((i) => i.loc.pack === 'same').length).toBe(500);
  });
});
