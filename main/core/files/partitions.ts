// Partition tables (MBR with extended partitions, GPT) and what a partition holds, from the
// on-disk signatures: only the sectors of the tables and the superblocks are read.
import { readAt, type BlockDevice } from './device.js';

export type PartitionScheme = 'gpt' | 'mbr' | 'none';

export interface Partition {
  /** 1-based, as the OS numbers it (sda1, sda2; MBR logical partitions from 5). */
  number: number;
  /** Byte offset and length on the disk. */
  start: number;
  size: number;
  /** GPT: the type GUID; MBR: the type byte in hex ("83"). "" for a whole unpartitioned disk. */
  type: string;
  /** GPT partition name, "" elsewhere. */
  label: string;
}

/** What a partition holds, by its signatures. */
export type FilesystemKind = 'ext' | 'fat' | 'ntfs' | 'lvm' | 'luks' | 'swap' | 'xfs' | 'btrfs' | 'unknown';

const SECTOR = 512;
const MAX_PARTITIONS = 256;
const MBR_EXTENDED = new Set([0x05, 0x0f, 0x85]);

function guid(b: Buffer): string {
  const h = b.toString('hex');
  // The first three fields are little-endian.
  const le = (s: string): string => s.match(/../g)!.reverse().join('');
  return `${le(h.slice(0, 8))}-${le(h.slice(8, 12))}-${le(h.slice(12, 16))}-${h.slice(16, 20)}-${h.slice(20)}`.toUpperCase();
}

async function gpt(dev: BlockDevice): Promise<Partition[] | undefined> {
  const hdr = await readAt(dev, SECTOR, SECTOR);
  if (hdr.length < 92 || hdr.toString('latin1', 0, 8) !== 'EFI PART') return undefined;
  const entriesLba = Number(hdr.readBigUInt64LE(72));
  const count = Math.min(hdr.readUInt32LE(80), MAX_PARTITIONS);
  const entrySize = hdr.readUInt32LE(84);
  if (entrySize < 128 || entrySize > 4096) return undefined;
  const table = await readAt(dev, entriesLba * SECTOR, count * entrySize);
  const out: Partition[] = [];
  for (let i = 0; i < count && (i + 1) * entrySize <= table.length; i++) {
    const e = table.subarray(i * entrySize, (i + 1) * entrySize);
    if (e.subarray(0, 16).every((x) => x === 0)) continue;
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    if (last < first) continue;
    const label = e.toString('utf16le', 56, 128).replace(/\0.*$/s, '');
    out.push({ number: i + 1, start: first * SECTOR, size: (last - first + 1) * SECTOR, type: guid(e.subarray(0, 16)), label });
  }
  return out;
}

async function mbr(dev: BlockDevice, sector0: Buffer): Promise<Partition[]> {
  const out: Partition[] = [];
  for (let i = 0; i < 4; i++) {
    const e = sector0.subarray(446 + i * 16, 462 + i * 16);
    const type = e[4]!;
    const lba = e.readUInt32LE(8);
    const n = e.readUInt32LE(12);
    if (type === 0 || n === 0) continue;
    if (MBR_EXTENDED.has(type)) {
      // The chain of extended boot records: each holds one logical partition and the next link.
      let ebr = lba;
      for (let k = 0; k < MAX_PARTITIONS && ebr !== 0; k++) {
        const s = await readAt(dev, ebr * SECTOR, SECTOR);
        if (s.length < SECTOR || s.readUInt16LE(510) !== 0xaa55) break;
        const l = s.subarray(446, 462);
        if (l[4] !== 0 && l.readUInt32LE(12) > 0) {
          out.push({ number: 5 + k, start: (ebr + l.readUInt32LE(8)) * SECTOR, size: l.readUInt32LE(12) * SECTOR, type: l[4]!.toString(16).padStart(2, '0'), label: '' });
        }
        const next = s.subarray(462, 478);
        ebr = next.readUInt32LE(12) > 0 ? lba + next.readUInt32LE(8) : 0;
      }
      continue;
    }
    out.push({ number: i + 1, start: lba * SECTOR, size: n * SECTOR, type: type.toString(16).padStart(2, '0'), label: '' });
  }
  return out;
}

/** The partitions of a disk; a disk holding a filesystem without a table is one partition, number 1. */
export async function readPartitions(dev: BlockDevice): Promise<{ scheme: PartitionScheme; partitions: Partition[] }> {
  const whole = (): { scheme: PartitionScheme; partitions: Partition[] } => ({ scheme: 'none', partitions: [{ number: 1, start: 0, size: dev.size, type: '', label: '' }] });
  const s0 = await readAt(dev, 0, SECTOR);
  if (s0.length < SECTOR) return { scheme: 'none', partitions: [] };
  // A filesystem at sector 0 (a FAT or NTFS boot sector also ends in 55 AA): no table.
  if ((await probeFilesystem(dev)) !== 'unknown') return whole();
  if (s0.readUInt16LE(510) !== 0xaa55) return { scheme: 'none', partitions: [] };
  const g = await gpt(dev);
  if (g) return { scheme: 'gpt', partitions: g };
  return { scheme: 'mbr', partitions: (await mbr(dev, s0)).filter((p) => p.start < dev.size) };
}

/** What the device holds, by signature (superblock magic numbers). */
export async function probeFilesystem(dev: BlockDevice): Promise<FilesystemKind> {
  const head = await readAt(dev, 0, 4096);
  if (head.length < 1024) return 'unknown';
  const at = (off: number, s: string): boolean => head.length >= off + s.length && head.toString('latin1', off, off + s.length) === s;
  if (head.length >= 1082 && head.readUInt16LE(1080) === 0xef53) return 'ext';
  if (at(3, 'NTFS    ')) return 'ntfs';
  if (head.readUInt16LE(510) === 0xaa55 && (at(54, 'FAT12') || at(54, 'FAT16') || at(82, 'FAT32'))) return 'fat';
  if (at(512, 'LABELONE') || at(1024, 'LABELONE')) return 'lvm';
  if (at(0, 'LUKS\xba\xbe')) return 'luks';
  if (at(0, 'XFSB')) return 'xfs';
  if (head.length >= 4096 && at(4086, 'SWAPSPACE2')) return 'swap';
  const btrfs = await readAt(dev, 0x10040, 8);
  if (btrfs.toString('latin1') === '_BHRfS_M') return 'btrfs';
  return 'unknown';
}
