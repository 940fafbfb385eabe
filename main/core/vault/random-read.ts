// Random access to the disks of a recovery point (file-level restore): a read at any offset of a
// disk fetches only the chunks it covers, with one ranged get per run of chunks stored side by
// side in a pack, decrypts and checks them here in the calling thread (a listing needs a few
// chunks; a worker round trip per chunk would cost more than it saves), and keeps the plaintext
// of recent chunks in a small cache bounded by bytes.
import zstd from 'zstd-napi';
import { CofferError } from '../errors.js';
import type { ChunkLookup } from './chunk-index.js';
import { ChunkListReader } from './chunk-lists.js';
import type { VaultKeys } from './config.js';
import { chunkIdFromDigest, open, sha256 } from './crypto.js';
import { FLAG_ZSTD, ID_LEN, packKey, type ChunkLocation, type DiskEntry, type Manifest } from './format.js';
import { ObjectNotFound, type ObjectStore } from './storage.js';

/** What a random reader needs of an open vault: its store, keys and chunk index (see Vault.withReadAccess). */
export interface RandomReadContext {
  store: ObjectStore;
  keys: VaultKeys;
  index: ChunkLookup;
  /** The vault's id: chunk ids are per vault, so a cache shared by several vaults keys by it. */
  vaultId: string;
}

/** Plaintext of recently read chunks, least recently used dropped first, bounded by bytes. */
export class ChunkCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(readonly maxBytes = 32 * 1024 * 1024) {}

  get(key: string): Buffer | undefined {
    const b = this.entries.get(key);
    if (b) {
      // Map keeps insertion order: re-inserting makes it the most recent.
      this.entries.delete(key);
      this.entries.set(key, b);
    }
    return b;
  }

  set(key: string, b: Buffer): void {
    if (b.length > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.length;
      this.entries.delete(key);
    }
    this.entries.set(key, b);
    this.bytes += b.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }

  get size(): number {
    return this.bytes;
  }
}

/** Counts what a reader took from the store. */
export interface ReadStats {
  /** Bytes fetched from the store (stored, encrypted form). */
  bytesFetched: number;
  /** Ranged gets issued. */
  requests: number;
  /** Chunks decrypted. */
  chunksOpened: number;
}

const ZERO_ID = Buffer.alloc(ID_LEN);

/** A chunk a read needs: its number, where it is stored, its id. */
interface Piece {
  chunk: number;
  loc: ChunkLocation;
  id: Buffer;
}

/** One disk of a point, readable at any offset. */
export class DiskReader {
  readonly size: number;
  readonly name: string;
  private readonly chunkSize: number;
  private readonly inFlight = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly ctx: RandomReadContext,
    disk: DiskEntry,
    chunkSize: number,
    /** The disk's chunk list, read a run at a time as reads reach it (never the whole list of a big disk). */
    private readonly list: ChunkListReader,
    private readonly cache: ChunkCache,
    readonly stats: ReadStats = { bytesFetched: 0, requests: 0, chunksOpened: 0 },
  ) {
    this.size = disk.size;
    this.name = disk.name;
    this.chunkSize = chunkSize;
  }

  /** Fills `into` from disk offset `position`; answers the bytes read (short only at the end of the disk). */
  async read(into: Buffer, position: number): Promise<number> {
    if (position >= this.size || into.length === 0) return 0;
    const end = Math.min(this.size, position + into.length);
    const first = Math.floor(position / this.chunkSize);
    const last = Math.floor((end - 1) / this.chunkSize);
    const chunks = await this.chunks(first, last);
    for (let c = first; c <= last; c++) {
      const start = c * this.chunkSize;
      const from = Math.max(position, start);
      const to = Math.min(end, start + this.chunkSize);
      const data = chunks.get(c);
      if (data) data.copy(into, from - position, from - start, to - start);
      else into.fill(0, from - position, to - position);
    }
    return end - position;
  }

  private chunkLength(c: number): number {
    return Math.min(this.chunkSize, this.size - c * this.chunkSize);
  }

  private cacheKey(id: Buffer): string {
    return `${this.ctx.vaultId}:${id.toString('hex')}`;
  }

  /** The plaintext of chunks first..last (zero chunks absent from the answer). */
  private async chunks(first: number, last: number): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    const missing: Piece[] = [];
    const waits: Array<Promise<void>> = [];
    const ids = await this.list.ids(first, last - first + 1);
    for (let c = first; c <= last; c++) {
      const id = ids.subarray((c - first) * ID_LEN, (c - first + 1) * ID_LEN);
      if (id.equals(ZERO_ID)) continue;
      const cached = this.cache.get(this.cacheKey(id));
      if (cached) {
        out.set(c, cached);
        continue;
      }
      const pending = this.inFlight.get(c);
      if (pending) {
        waits.push(pending.then((b) => void out.set(c, b)));
        continue;
      }
      const loc = this.ctx.index.get(ids, (c - first) * ID_LEN);
      if (!loc) throw new CofferError('ChunkCorrupt', `Chunk ${c} of disk ${this.name} is missing from the vault.`, { disk: this.name, chunk: c });
      missing.push({ chunk: c, loc, id });
    }
    // Runs of chunks stored back to back in one pack: one ranged get each.
    const runs: Piece[][] = [];
    for (const it of missing) {
      const run = runs[runs.length - 1];
      const prev = run?.[run.length - 1];
      if (run && prev && prev.loc.pack === it.loc.pack && prev.loc.offset + prev.loc.length === it.loc.offset) run.push(it);
      else runs.push([it]);
    }
    for (const run of runs) {
      const fetched = this.fetchRun(run);
      run.forEach((it, k) => {
        const p = fetched.then((bufs) => bufs[k]!);
        this.inFlight.set(it.chunk, p);
        waits.push(
          p.then(
            (b) => {
              out.set(it.chunk, b);
            },
            () => undefined,
          ),
        );
        void p.finally(() => this.inFlight.delete(it.chunk)).catch(() => undefined);
      });
      waits.push(fetched.then(() => undefined));
    }
    await Promise.all(waits);
    return out;
  }

  private async fetchRun(run: Piece[]): Promise<Buffer[]> {
    const head = run[0]!.loc;
    const length = run.reduce((n, it) => n + it.loc.length, 0);
    let blob: Buffer;
    try {
      blob = await this.ctx.store.getRange(packKey(head.pack), head.offset, length);
    } catch (e) {
      if (e instanceof ObjectNotFound) throw new CofferError('ChunkCorrupt', `Pack ${head.pack} is missing from the vault.`, { pack: head.pack, disk: this.name });
      throw e;
    }
    this.stats.requests++;
    this.stats.bytesFetched += blob.length;
    if (blob.length !== length) throw new CofferError('ChunkCorrupt', `Pack ${head.pack} is shorter than its index says.`, { pack: head.pack, disk: this.name });
    const out: Buffer[] = [];
    let at = 0;
    for (const it of run) {
      const plain = this.openChunk(it, blob.subarray(at, at + it.loc.length));
      at += it.loc.length;
      this.cache.set(this.cacheKey(it.id), plain);
      out.push(plain);
    }
    return out;
  }

  /** Decrypts, decompresses and checks one chunk against its id. */
  private openChunk({ chunk: c, loc, id }: Piece, blob: Buffer): Buffer {
    const bad = (): CofferError => new CofferError('ChunkCorrupt', `Chunk ${c} of disk ${this.name} failed its integrity check.`, { disk: this.name, chunk: c, pack: loc.pack });
    let plain: Buffer;
    try {
      const z = open(this.ctx.keys.encKey, blob, id, `chunk ${c} of disk ${this.name}`);
      plain = loc.flags & FLAG_ZSTD ? zstd.decompress(z) : z;
    } catch {
      throw bad();
    }
    this.stats.chunksOpened++;
    if (plain.length !== loc.rawLength || plain.length !== this.chunkLength(c) || !chunkIdFromDigest(this.ctx.keys.macKey, sha256(plain)).equals(id)) throw bad();
    return plain;
  }
}

/** A reader of one disk of a point. */
export async function openDiskReader(ctx: RandomReadContext, m: Manifest, diskName: string, cache: ChunkCache, stats?: ReadStats): Promise<DiskReader> {
  const disk = m.disks.find((d) => d.name === diskName);
  if (!disk) throw new CofferError('RecoveryPointNotFound', `The recovery point ${m.id} has no disk ${diskName}.`, { disk: diskName });
  const list = new ChunkListReader(ctx.store, ctx.keys, disk);
  if (list.count !== Math.ceil(disk.size / m.chunkSize)) {
    throw new CofferError('VaultCorrupt', `The chunk list of disk ${disk.name} has the wrong length.`, { disk: disk.name });
  }
  return new DiskReader(ctx, disk, m.chunkSize, list, cache, stats);
}
