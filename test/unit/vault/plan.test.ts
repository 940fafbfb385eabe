import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ID_LEN, type DiskEntry } from '../../../main/core/vault/format.js';
import { CHUNK_PARENT, CHUNK_READ, CHUNK_ZERO, chunkActions, chunkRuns, mergeRanges, parentChunkIds, sameFile, windowActions, type ByteRange } from '../../../main/core/vault/plan.js';

const CS = 4096;

/** A parent entry of `n` chunks; the chunks in `zeros` are stored as zero (all-zero id). */
function parentOf(size: number, zeros: ReadonlySet<number> = new Set()): DiskEntry {
  const n = Math.ceil(size / CS);
  const ids = Buffer.alloc(n * ID_LEN);
  for (let i = 0; i < n; i++) if (!zeros.has(i)) ids.fill(i % 250 + 1, i * ID_LEN, (i + 1) * ID_LEN);
  return { name: 'd.raw', size, sha256: '0'.repeat(64), chunks: ids.toString('base64'), zeroBytes: 0 };
}

/** The reference: byte by byte, which chunks a range touches and which lie wholly in zero ranges. */
function reference(size: number, parent: DiskEntry | undefined, changed: ByteRange[], zero: ByteRange[]): number[] {
  const n = Math.ceil(size / CS);
  const usable = parent !== undefined && parent.size === size;
  const ids = usable ? parentChunkIds(parent) : Buffer.alloc(0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const lo = i * CS;
    const hi = Math.min(size, lo + CS);
    let a = CHUNK_READ;
    if (usable) {
      const zeroId = ids.subarray(i * ID_LEN, (i + 1) * ID_LEN).every((b) => b === 0);
      const hit = changed.some((r) => Math.max(lo, r.offset) < Math.min(hi, r.offset + r.length));
      a = hit ? CHUNK_READ : zeroId ? CHUNK_ZERO : CHUNK_PARENT;
    }
    // Zero ranges that touch or overlap cover a chunk together (qemu-img may cut one hole in two).
    let all = true;
    for (let x = lo; x < hi && all; x++) all = zero.some((r) => r.offset <= x && x < r.offset + r.length);
    if (all) a = CHUNK_ZERO;
    out.push(a);
  }
  return out;
}

const range = (size: number) =>
  fc.record({ offset: fc.integer({ min: 0, max: size + CS }), length: fc.integer({ min: 0, max: 5 * CS }) });

describe('disk plans', () => {
  it('reads exactly the chunks a changed range touches, takes every other from the parent, skips zero ranges', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 * CS }).chain((size) =>
          fc.record({
            size: fc.constant(size),
            withParent: fc.boolean(),
            parentZeros: fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 8 }),
            changed: fc.array(range(size), { maxLength: 8 }),
            zero: fc.array(range(size), { maxLength: 4 }),
          }),
        ),
        ({ size, withParent, parentZeros, changed, zero }) => {
          const parent = withParent ? parentOf(size, new Set(parentZeros)) : undefined;
          const plan = { ...(parent ? { parent: { pointId: 'p', entry: parent } } : {}), changed, zero };
          const { actions, parentIds } = chunkActions(size, CS, plan);
          expect([...actions]).toEqual(reference(size, parent, changed, zero));
          expect(parentIds !== undefined).toBe(withParent);
          // Window by window (as runBackup goes, one chunk-list run at a time): the same actions.
          const n = Math.ceil(size / CS);
          const win = 1 + (size % 7);
          const parts: number[] = [];
          for (let f = 0; f < n; f += win) {
            const m = Math.min(win, n - f);
            parts.push(...windowActions(f, m, size, CS, parentIds?.subarray(f * ID_LEN, (f + m) * ID_LEN), mergeRanges(changed), mergeRanges(zero)));
          }
          expect(parts).toEqual([...actions]);
        },
      ),
    );
  });

  it('reads everything when the parent has another size (sizeChanged), and nothing with a parent and no changes', () => {
    const parent = parentOf(10 * CS);
    const grown = chunkActions(11 * CS, CS, { parent: { pointId: 'p', entry: parent } });
    expect(grown.parentIds).toBeUndefined();
    expect([...grown.actions].every((a) => a === CHUNK_READ)).toBe(true);
    const same = chunkActions(10 * CS, CS, { parent: { pointId: 'p', entry: parent } });
    expect([...same.actions].every((a) => a === CHUNK_PARENT)).toBe(true);
  });

  it('cuts read runs at the segment size (parent and zero runs stay whole) and keeps disk order', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(CHUNK_READ, CHUNK_PARENT, CHUNK_ZERO), { maxLength: 200 }), fc.integer({ min: 1, max: 9 }), (list, max) => {
        const runs = [...chunkRuns(Uint8Array.from(list), max)];
        const flat = runs.flatMap((r) => Array.from({ length: r.count }, () => r.action));
        expect(flat).toEqual(list);
        let at = 0;
        for (const r of runs) {
          expect(r.first).toBe(at);
          at += r.count;
          if (r.action === CHUNK_READ) expect(r.count).toBeLessThanOrEqual(max);
        }
      }),
    );
  });

  it('counts a file as unchanged only when size, mtime, ctime and inode all match a recorded ctime', () => {
    const now = { size: 100, mtimeMs: 5, ctimeMs: 6, ino: 7 };
    const src = { path: '/d', mtimeMs: 5, ino: 7, ctimeMs: 6 };
    expect(sameFile(src, 100, now)).toBe(true);
    expect(sameFile({ path: '/d', mtimeMs: 5, ino: 7 }, 100, now)).toBe(false); // an entry from before ctime was recorded
    expect(sameFile(src, 101, now)).toBe(false);
    expect(sameFile({ ...src, ctimeMs: 9 }, 100, now)).toBe(false);
    expect(sameFile({ ...src, ino: 8 }, 100, now)).toBe(false);
    expect(sameFile(undefined, 100, now)).toBe(false);
  });
});
