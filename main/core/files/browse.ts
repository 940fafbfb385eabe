// File browsing of a recovery point: its disks (raw, or qcow2 read through its cluster tables),
// their partitions, and the filesystem of each, read from the vault chunk by chunk.
import { CofferError } from '../errors.js';
import type { Manifest } from '../vault/format.js';
import { openDiskReader, type ChunkCache, type RandomReadContext, type ReadStats } from '../vault/random-read.js';
import { readAt, sliceDevice, unsupported, type BlockDevice } from './device.js';
import { openExt } from './ext.js';
import { openFat } from './fat.js';
import type { FilesystemReader } from './fs-types.js';
import { whyNoNtfs } from './ntfs.js';
import { probeFilesystem, readPartitions, type FilesystemKind, type Partition, type PartitionScheme } from './partitions.js';
import { openContainer } from './container.js';
import { containerOf, isQcow2, openQcow2 } from './qcow2.js';

export interface PartitionView extends Partition {
  filesystem: FilesystemKind;
  /** "ext4", "FAT32", "NTFS", "LVM physical volume", ... */
  filesystemLabel: string;
  browsable: boolean;
  /** Why it cannot be browsed, and what would read it. */
  reason: string | null;
}

export interface DiskView {
  name: string;
  /** Guest-visible size (a qcow2 disk's virtual size). */
  size: number;
  format: string;
  scheme: PartitionScheme;
  partitions: PartitionView[];
  /** Why the disk itself cannot be read (a container format Coffer does not read). */
  reason: string | null;
}

async function extLabel(dev: BlockDevice): Promise<string> {
  const sb = await readAt(dev, 1024, 1024);
  const compat = sb.readUInt32LE(0x5c);
  const incompat = sb.readUInt32LE(0x60);
  // extents or 64bit or flex_bg: ext4; a journal: ext3.
  if (incompat & (0x40 | 0x80 | 0x200)) return 'ext4';
  return compat & 0x4 ? 'ext3' : 'ext2';
}

async function fatLabel(dev: BlockDevice): Promise<string> {
  const b = await readAt(dev, 0, 512);
  return b.toString('latin1', 82, 87) === 'FAT32' ? 'FAT32' : b.toString('latin1', 54, 59).trim();
}

const REASONS: Record<Exclude<FilesystemKind, 'ext' | 'fat' | 'ntfs'>, [string, string]> = {
  lvm: ['LVM physical volume', 'LVM: its logical volumes cannot be browsed yet; restore the disk and activate them with vgchange -ay.'],
  luks: ['LUKS encrypted', 'LUKS: encrypted, so it cannot be browsed; restore the disk and open it with cryptsetup.'],
  swap: ['swap', 'swap space holds no files.'],
  xfs: ['XFS', 'XFS cannot be browsed yet; restore the disk and mount it.'],
  btrfs: ['Btrfs', 'Btrfs cannot be browsed yet; restore the disk and mount it.'],
  unknown: ['unknown', 'no filesystem Coffer recognises (empty, or an unknown format).'],
};

/** A point opened for browsing; every read goes through one bounded chunk cache. */
export class PointBrowser {
  private readonly devices = new Map<string, Promise<{ dev: BlockDevice; format: string; reason: string | null }>>();
  private readonly closers: Array<() => Promise<void>> = [];

  constructor(
    private readonly ctx: RandomReadContext,
    readonly manifest: Manifest,
    private readonly cache: ChunkCache,
    readonly stats: ReadStats = { bytesFetched: 0, requests: 0, chunksOpened: 0 },
  ) {}

  /** Removes what opening container disks left in temporary files; the browser is not used after. */
  async close(): Promise<void> {
    for (const c of this.closers.splice(0)) await c();
  }

  private rawDisk(name: string): Promise<BlockDevice> {
    return openDiskReader(this.ctx, this.manifest, name, this.cache, this.stats);
  }

  /** The guest view of a disk: qcow2 through its tables (its backing chain from the same point), raw as it is. */
  device(name: string): Promise<{ dev: BlockDevice; format: string; reason: string | null }> {
    let d = this.devices.get(name);
    if (!d) {
      d = (async () => {
        const raw = await this.rawDisk(name);
        const head = await readAt(raw, 0, 512);
        if (isQcow2(head)) {
          const resolve = async (file: string): Promise<BlockDevice | undefined> =>
            this.manifest.disks.some((x) => x.name === file) && file !== name ? this.rawDisk(file) : undefined;
          return { dev: await openQcow2(raw, name, resolve), format: 'qcow2', reason: null };
        }
        const container = containerOf(head);
        if (container) {
          const opened = await openContainer(raw, container, name);
          if ('reason' in opened) return { dev: raw, format: container, reason: opened.reason };
          this.closers.push(opened.close);
          return { dev: opened.dev, format: container, reason: null };
        }
        return { dev: raw, format: 'raw', reason: null };
      })();
      this.devices.set(name, d);
      d.catch(() => this.devices.delete(name));
    }
    return d;
  }

  private async partitionView(dev: BlockDevice, p: Partition): Promise<PartitionView> {
    const part = sliceDevice(dev, p.start, p.size);
    const fs = await probeFilesystem(part);
    if (fs === 'ext') return { ...p, filesystem: fs, filesystemLabel: await extLabel(part), browsable: true, reason: null };
    if (fs === 'fat') {
      const label = await fatLabel(part);
      return label === 'FAT12'
        ? { ...p, filesystem: fs, filesystemLabel: label, browsable: false, reason: 'FAT12 cannot be browsed; restore the disk and mount it.' }
        : { ...p, filesystem: fs, filesystemLabel: label, browsable: true, reason: null };
    }
    if (fs === 'ntfs') {
      const why = await whyNoNtfs();
      return { ...p, filesystem: fs, filesystemLabel: 'NTFS', browsable: why === null, reason: why };
    }
    const [label, reason] = REASONS[fs];
    return { ...p, filesystem: fs, filesystemLabel: label, browsable: false, reason };
  }

  async disks(): Promise<DiskView[]> {
    const out: DiskView[] = [];
    for (const d of this.manifest.disks) {
      let view: { dev: BlockDevice; format: string; reason: string | null };
      try {
        view = await this.device(d.name);
      } catch (e) {
        if (e instanceof CofferError && e.code === 'FilesystemUnsupported') {
          out.push({ name: d.name, size: d.size, format: 'qcow2', scheme: 'none', partitions: [], reason: e.message });
          continue;
        }
        throw e;
      }
      if (view.reason) {
        out.push({ name: d.name, size: view.dev.size, format: view.format, scheme: 'none', partitions: [], reason: view.reason });
        continue;
      }
      const { scheme, partitions } = await readPartitions(view.dev);
      const parts: PartitionView[] = [];
      for (const p of partitions) parts.push(await this.partitionView(view.dev, p));
      out.push({ name: d.name, size: view.dev.size, format: view.format, scheme, partitions: parts, reason: parts.length === 0 ? 'no partition table and no filesystem Coffer recognises.' : null });
    }
    return out;
  }

  /** The filesystem of a disk's partition; without a choice, the first browsable one of the first disk that has one. */
  async open(disk?: string, partition?: number): Promise<{ fs: FilesystemReader; disk: string; partition: PartitionView }> {
    const disks = await this.disks();
    const candidates = disk === undefined ? disks : disks.filter((d) => d.name === disk);
    if (disk !== undefined && candidates.length === 0) {
      throw new CofferError('FileNotFoundInPoint', `The recovery point has no disk ${disk} (it has ${disks.map((d) => d.name).join(', ')}).`, { disk });
    }
    for (const d of candidates) {
      const parts = partition === undefined ? d.partitions.filter((p) => p.browsable) : d.partitions.filter((p) => p.number === partition);
      if (partition !== undefined && parts.length === 0) {
        throw new CofferError('FileNotFoundInPoint', `Disk ${d.name} has no partition ${partition} (it has ${d.partitions.map((p) => p.number).join(', ') || 'none'}).`, { disk: d.name, partition });
      }
      const p = parts[0];
      if (!p) continue;
      if (!p.browsable) throw unsupported(`Partition ${p.number} of disk ${d.name} (${p.filesystemLabel})`, p.reason ?? 'unknown filesystem.', { disk: d.name, partition: p.number });
      const { dev } = await this.device(d.name);
      const part = sliceDevice(dev, p.start, p.size);
      const fs = p.filesystem === 'ext' ? await openExt(part, p.filesystemLabel) : p.filesystem === 'fat' ? await openFat(part, p.filesystemLabel) : await openNtfsFor(part, p);
      return { fs, disk: d.name, partition: p };
    }
    const first = candidates[0];
    const why = first?.reason ?? first?.partitions.map((p) => `${p.number}: ${p.reason ?? ''}`).join('; ') ?? 'the point has no disk.';
    throw unsupported(disk === undefined ? 'No disk of this recovery point' : `Disk ${disk}`, why);
  }
}

async function openNtfsFor(part: BlockDevice, p: PartitionView): Promise<FilesystemReader> {
  const { openNtfs } = await import('./ntfs.js');
  return openNtfs(part, p.filesystemLabel);
}
