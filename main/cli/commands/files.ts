import type { Command } from 'commander';
import * as path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { formatMode, MAX_FILE_PIECE, type PointFileListing } from '../../../preload/contract.js';
import { formatBytes } from '../../../preload/units.js';
import { printTable } from '../format.js';
import type { Cli } from '../io.js';

interface Where {
  point: string;
  disk?: string;
  partition?: number;
  passphraseFile?: string;
}

function partitionNumber(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a partition number (1, 2, ...)');
  return n;
}

const selector = (vm: string, o: Where): { vm: string; pointId: string; disk?: string; partition?: number } => ({
  vm,
  pointId: o.point,
  ...(o.disk !== undefined ? { disk: o.disk } : {}),
  ...(o.partition !== undefined ? { partition: o.partition } : {}),
});

function withWhere(c: Command): Command {
  return c
    .requiredOption('--point <id>', 'the recovery point (see `coffer point list VM`)')
    .option('--disk <name>', 'a disk of the point (default: the first with a browsable partition)')
    .option('--partition <n>', 'a partition number of the disk (default: the first browsable one)', partitionNumber)
    .option('--passphrase-file <file>', 'passphrase of the vault if it is locked');
}

function printListing(out: (t: string) => void, l: PointFileListing): void {
  for (const d of l.disks) {
    out(`disk ${d.name}: ${d.format}, ${formatBytes(d.size)}, ${d.scheme === 'none' ? 'no partition table' : d.scheme.toUpperCase()}${d.reason ? ` (${d.reason})` : ''}\n`);
    for (const p of d.partitions) {
      const mark = l.disk === d.name && l.partition === p.number ? '*' : ' ';
      out(` ${mark} ${p.number}  ${formatBytes(p.size).padStart(10)}  ${p.filesystemLabel}${p.label ? ` "${p.label}"` : ''}${p.reason ? `: ${p.reason}` : ''}\n`);
    }
  }
  if (l.disk === null) return;
  out(`\n${l.disk} partition ${l.partition} (${l.filesystem}): ${l.path}\n`);
  printTable(
    out,
    ['MODE', 'SIZE', 'MODIFIED', 'NAME'],
    l.entries.map((e) => [formatMode(e.mode), e.kind === 'dir' ? '' : String(e.size), e.mtime, `${e.name}${e.kind === 'dir' ? '/' : ''}${e.target !== null ? ` -> ${e.target}` : ''}`]),
  );
}

export function filesCommands(program: Command, cli: Cli): void {
  const { io, call, print, unlock, finish } = cli;
  const files = program.command('files').description("browse a recovery point's filesystems and restore single files, without restoring the disks");

  withWhere(files.command('list <vm> [path]').description("list a folder of a point's filesystem (the root unless told), with its disks and partitions"))
    .option('--json', 'print as JSON')
    .action(async (vm: string, p: string | undefined, o: Where & { json?: boolean }) => {
      await unlock({ vms: [vm] }, o.passphraseFile);
      const listing = await call('listPointFiles', { ...selector(vm, o), ...(p !== undefined ? { path: p } : {}) });
      print(listing, o.json, () => printListing(io.out, listing));
    });

  withWhere(files.command('cat <vm> <path>').description('write one file of a point to standard output')).action(async (vm: string, p: string, o: Where) => {
    await unlock({ vms: [vm] }, o.passphraseFile);
    const write = io.outBytes ?? ((b: Uint8Array) => io.out(Buffer.from(b).toString('utf8')));
    for (let offset = 0; ; ) {
      const piece = await call('readPointFile', { ...selector(vm, o), path: p, offset, length: MAX_FILE_PIECE });
      const data = Buffer.from(piece.data, 'base64');
      if (data.length > 0) write(data);
      offset += data.length;
      if (data.length === 0 || offset >= piece.size) break;
    }
  });

  withWhere(files.command('restore <vm> <paths...>').description('restore files and folders of a point into a folder (modes, times and symlinks kept; never overwrites)'))
    .requiredOption('--to <dir>', 'target folder: empty or absent, unless --keep-both')
    .option('--keep-both', 'in a folder that is not empty, restore a name that exists as "name (1).ext"')
    .option('--wait', 'wait for the job to end; exit 1 if it failed')
    .option('--json', 'print as JSON')
    .action(async (vm: string, paths: string[], o: Where & { to: string; keepBoth?: boolean; wait?: boolean; json?: boolean }) => {
      await unlock({ vms: [vm] }, o.passphraseFile);
      await finish([await call('restorePointFiles', { ...selector(vm, o), paths, targetDir: path.resolve(o.to), keepBoth: o.keepBoth ?? false })], o);
    });
}
