import type { ChunkLocation } from './format.js';

/**
 * How a restore from object storage groups its reads (restore.ts calls this where the store has
 * ioHints; a local folder keeps batches in disk order).
 *
 * A restore walks a disk's chunks in order, but a backup's workers finish segments out of order
 * and packs close at a byte count, so the chunks of one pack come from a stretch of disk of about
 * a pack and a half, and a batch cut in disk order touches two or three packs partly: one ranged
 * GET per piece (measured about 2 per pack on the reference image). Chunks are written at their
 * own offset, so the order they are restored in does not matter. This batcher looks ahead over a
 * window of the disk (only the chunk locations: a few dozen bytes each, no data), sorts it by pack
 * and offset, and cuts batches along pack boundaries: a pack's chunks go into one batch, read
 * with one GET per run of adjacent chunks, and small leftovers of several packs share one batch.
 * Packs touched by the last stretch of the window may continue in the next one, so they wait for
 * it (bounded: a group that fills a batch, or a carry-over above half a window, goes out anyway).
 */
export interface PlacedChunk {
  loc: ChunkLocation;
}

export class PackBatcher<T extends PlacedChunk> {
  private pending: Array<{ item: T; seq: number }> = [];
  private pendingBytes = 0;
  private seq = 0;

  /**
   * @param batchBytes a batch closes at the first chunk that reaches this many stored bytes
   * @param windowBytes stored bytes looked ahead before batches are cut (a multiple of batchBytes)
   * @param tailBytes packs touched by the last this-many bytes of a window wait for the next one
   */
  constructor(
    private readonly batchBytes: number,
    private readonly windowBytes = batchBytes * 8,
    private readonly tailBytes = batchBytes * 2,
  ) {}

  /** Takes the next chunk in disk order; returns the batches that are ready (often none). */
  add(item: T): T[][] {
    this.pending.push({ item, seq: this.seq++ });
    this.pendingBytes += item.loc.length;
    return this.pendingBytes >= this.windowBytes ? this.cut(false) : [];
  }

  /** Every batch left, once the disk's last chunk was added. */
  flush(): T[][] {
    return this.cut(true);
  }

  private cut(all: boolean): T[][] {
    const groups = new Map<string, Array<{ item: T; seq: number }>>();
    for (const p of this.pending) {
      const g = groups.get(p.item.loc.pack);
      if (g) g.push(p);
      else groups.set(p.item.loc.pack, [p]);
    }
    // Packs whose chunks arrived in the window's last tailBytes may go on in the next window.
    const carry = new Set<string>();
    if (!all) {
      let tail = 0;
      for (let i = this.pending.length - 1; i >= 0 && tail < this.tailBytes; i--) {
        const p = this.pending[i]!;
        carry.add(p.item.loc.pack);
        tail += p.item.loc.length;
      }
      let carried = 0;
      for (const pack of carry) carried += bytesOf(groups.get(pack)!);
      if (carried > this.windowBytes / 2) carry.clear();
    }
    const out: T[][] = [];
    let batch: T[] = [];
    let bytes = 0;
    const close = (): void => {
      if (batch.length > 0) out.push(batch);
      batch = [];
      bytes = 0;
    };
    const kept: Array<{ item: T; seq: number }> = [];
    const packs = [...groups.keys()].sort();
    for (const pack of packs) {
      const g = groups.get(pack)!.sort((a, b) => a.item.loc.offset - b.item.loc.offset || a.seq - b.seq);
      let from = 0;
      if (carry.has(pack)) {
        // Whole batches of a long group go now; the rest waits for the next window.
        const full = Math.floor(bytesOf(g) / this.batchBytes);
        if (full === 0) {
          kept.push(...g);
          continue;
        }
        const own: T[] = [];
        let b = 0;
        let sent = 0;
        for (; from < g.length && sent < full; from++) {
          own.push(g[from]!.item);
          b += g[from]!.item.loc.length;
          if (b >= this.batchBytes) {
            out.push(own.splice(0));
            b = 0;
            sent++;
          }
        }
        kept.push(...g.slice(from));
        continue;
      }
      // A group that does not fit beside what the batch holds starts a batch of its own.
      if (bytes > 0 && bytes + bytesOf(g) > this.batchBytes) close();
      for (; from < g.length; from++) {
        batch.push(g[from]!.item);
        bytes += g[from]!.item.loc.length;
        if (bytes >= this.batchBytes) close();
      }
    }
    close();
    kept.sort((a, b) => a.seq - b.seq);
    this.pending = kept;
    this.pendingBytes = bytesOf(kept);
    return out;
  }
}

const bytesOf = (g: ReadonlyArray<{ item: PlacedChunk }>): number => g.reduce((n, p) => n + p.item.loc.length, 0);
