// The guest view of a qcow2 file (QEMU's qcow2 spec, docs/interop/qcow2.txt): reads go through the
// L1 and L2 cluster tables to the clusters that hold data; compressed clusters (deflate or zstd)
// are inflated; unallocated clusters come from the backing file (another disk of the same point)
// or read as zeros. Only the tables and clusters a read touches are fetched.
import { inflateRawSync, constants as zlibConstants } from 'node:zlib';
import zstd from 'zstd-napi';
import { readAt, unsupported, type BlockDevice } from './device.js';

const MAGIC = 0x514649fb; // "QFI\xfb"
const OFFSET_MASK = 0x00fffffffffffe00n;
const COMPRESSED = 1n << 62n;
const ZERO_FLAG = 1n;
const MAX_BACKING_DEPTH = 16;
const L2_CACHE = 64;
const CLUSTER_CACHE = 16;

export function isQcow2(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32BE(0) === MAGIC;
}

/** Other image containers Coffer can name but not read cluster by cluster. */
export function containerOf(head: Buffer): string | undefined {
  if (head.length < 512) return undefined;
  if (head.toString('latin1', 0, 4) === 'KDMV') return 'VMDK (sparse)';
  if (head.toString('latin1', 0, 8) === 'vhdxfile') return 'VHDX';
  if (head.readUInt32LE(0x40) === 0xbeda107f) return 'VDI';
  if (head.toString('latin1', 0, 8) === 'conectix') return 'VHD (dynamic)';
  return undefined;
}

/** Finds another disk of the point by the file name a qcow2 header names as its backing file. */
export type BackingResolver = (fileName: string) => Promise<BlockDevice | undefined>;

class Lru<V> {
  private readonly m = new Map<number, V>();
  constructor(private readonly max: number) {}
  get(k: number): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }
  set(k: number, v: V): void {
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
}

export async function openQcow2(file: BlockDevice, name: string, resolve: BackingResolver, depth = 0): Promise<BlockDevice> {
  const h = await readAt(file, 0, 4096);
  if (h.length < 72 || !isQcow2(h)) throw unsupported(`The disk ${name}`, 'its qcow2 header is damaged.');
  const version = h.readUInt32BE(4);
  const backingOffset = Number(h.readBigUInt64BE(8));
  const backingSize = h.readUInt32BE(16);
  const clusterBits = h.readUInt32BE(20);
  const size = Number(h.readBigUInt64BE(24));
  const crypt = h.readUInt32BE(32);
  const l1Size = h.readUInt32BE(36);
  const l1Offset = Number(h.readBigUInt64BE(40));
  if (version !== 2 && version !== 3) throw unsupported(`The qcow2 disk ${name} (version ${version})`, 'convert it with qemu-img convert -O raw, then browse the copy.');
  if (clusterBits < 9 || clusterBits > 21) throw unsupported(`The qcow2 disk ${name}`, `its cluster size 2^${clusterBits} is outside the spec.`);
  if (crypt !== 0) throw unsupported(`The encrypted qcow2 disk ${name}`, 'decrypt it with qemu-img convert and the key, then browse the copy.');
  let compression: 'zlib' | 'zstd' = 'zlib';
  if (version === 3 && h.length >= 104) {
    const incompatible = h.readBigUInt64BE(72);
    const headerLength = h.readUInt32BE(100);
    if (incompatible & 0b100n) throw unsupported(`The qcow2 disk ${name}`, 'its data lives in an external data file that is not part of the point.');
    if (incompatible & 0b10000n) throw unsupported(`The qcow2 disk ${name}`, 'it uses extended L2 entries (subclusters); convert it with qemu-img convert, then browse the copy.');
    if (incompatible & 0b1000n && headerLength > 104) compression = h[104] === 1 ? 'zstd' : 'zlib';
  }
  const clusterSize = 2 ** clusterBits;
  const l2Entries = clusterSize / 8;
  const l1 = await readAt(file, l1Offset, l1Size * 8);
  if (l1.length !== l1Size * 8) throw unsupported(`The qcow2 disk ${name}`, 'its L1 table lies beyond the end of the file (a truncated copy?).');

  let backing: BlockDevice | undefined;
  if (backingOffset !== 0 && backingSize > 0) {
    const ref = (await readAt(file, backingOffset, Math.min(backingSize, 1023))).toString('utf8');
    const base = ref.slice(Math.max(ref.lastIndexOf('/'), ref.lastIndexOf('\\')) + 1);
    const raw = await resolve(base);
    if (!raw) throw unsupported(`The qcow2 disk ${name}`, `its backing file ${ref} is not a disk of this recovery point; back up the whole chain.`, { backing: ref });
    if (depth >= MAX_BACKING_DEPTH) throw unsupported(`The qcow2 disk ${name}`, `its backing chain is deeper than ${MAX_BACKING_DEPTH}.`);
    backing = isQcow2(await readAt(raw, 0, 4)) ? await openQcow2(raw, base, resolve, depth + 1) : raw;
  }

  const l2Cache = new Lru<Buffer>(L2_CACHE);
  const clusterCache = new Lru<Buffer>(CLUSTER_CACHE);
  const x = BigInt(62 - (clusterBits - 8));
  const xMask = (1n << x) - 1n;

  const l2Entry = async (cluster: number): Promise<bigint> => {
    const l1i = Math.floor(cluster / l2Entries);
    if (l1i >= l1Size) return 0n;
    const l2Off = Number(l1.readBigUInt64BE(l1i * 8) & OFFSET_MASK);
    if (l2Off === 0) return 0n;
    let table = l2Cache.get(l2Off);
    if (!table) {
      table = await readAt(file, l2Off, clusterSize);
      if (table.length !== clusterSize) throw unsupported(`The qcow2 disk ${name}`, 'an L2 table lies beyond the end of the file.');
      l2Cache.set(l2Off, table);
    }
    return table.readBigUInt64BE((cluster % l2Entries) * 8);
  };

  const compressedCluster = async (e: bigint): Promise<Buffer> => {
    const off = Number(e & xMask);
    const cached = clusterCache.get(off);
    if (cached) return cached;
    const sectors = Number((e >> x) & ((1n << (62n - x)) - 1n));
    const len = (sectors + 1) * 512 - (off % 512);
    const z = await readAt(file, off, len);
    let out: Buffer;
    try {
      out =
        compression === 'zlib'
          ? inflateRawSync(z, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: clusterSize })
          : zstd.decompress(z);
    } catch {
      throw unsupported(`The qcow2 disk ${name}`, `a compressed cluster at ${off} does not inflate (the image is damaged).`);
    }
    if (out.length < clusterSize) out = Buffer.concat([out, Buffer.alloc(clusterSize - out.length)]);
    clusterCache.set(off, out);
    return out;
  };

  return {
    size,
    async read(into, position) {
      if (position >= size) return 0;
      const end = Math.min(size, position + into.length);
      let pos = position;
      while (pos < end) {
        const cluster = Math.floor(pos / clusterSize);
        const inCluster = pos % clusterSize;
        const n = Math.min(end - pos, clusterSize - inCluster);
        const dst = into.subarray(pos - position, pos - position + n);
        const e = await l2Entry(cluster);
        if (e & COMPRESSED) {
          (await compressedCluster(e)).copy(dst, 0, inCluster, inCluster + n);
        } else if (version === 3 && e & ZERO_FLAG) {
          dst.fill(0);
        } else {
          const host = Number(e & OFFSET_MASK);
          if (host !== 0) {
            const got = await file.read(dst, host + inCluster);
            if (got < n) dst.fill(0, got);
          } else if (backing) {
            const got = await backing.read(dst, pos);
            if (got < n) dst.fill(0, Math.max(0, got));
          } else dst.fill(0);
        }
        pos += n;
      }
      return end - position;
    },
  };
}
