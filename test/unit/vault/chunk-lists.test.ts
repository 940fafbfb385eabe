// Format 2 chunk-list runs: any pattern of zero and non-zero ids survives encode/decode, runs of
// zero chunks cost one record, and a damaged run is ChunkCorrupt, never a wrong list.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCofferError } from '../../../main/core/errors.js';
import { decodeRun, encodeRun } from '../../../main/core/vault/chunk-lists.js';

/** ids from a pattern: true = a random id, false = a zero chunk. */
function idsOf(pattern: boolean[]): Buffer {
  const out = Buffer.alloc(pattern.length * 32);
  pattern.forEach((nonZero, i) => {
    if (nonZero) randomBytes(32).copy(out, i * 32);
  });
  return out;
}

describe('chunk-list runs', () => {
  it('decode(encode(ids)) is ids for any mix of zero and non-zero chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 600 }), (pattern) => {
        const ids = idsOf(pattern);
        expect(decodeRun(encodeRun(ids), 'x').equals(ids)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a run of zero chunks is one record: 32768 zero chunks take 14 bytes', () => {
    expect(encodeRun(Buffer.alloc(32768 * 32))).toHaveLength(9 + 5);
  });

  it('a truncated, padded or altered run is ChunkCorrupt', () => {
    const good = encodeRun(idsOf([true, false, false, true, true]));
    for (const bad of [good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from([1])]), Buffer.from(good).fill(7, 9, 10), Buffer.from('nope')]) {
      let e: unknown;
      try {
        decodeRun(bad, 'x');
      } catch (x) {
        e = x;
      }
      expect(isCofferError(e, 'ChunkCorrupt')).toBe(true);
    }
  });
});
