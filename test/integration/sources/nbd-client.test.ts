import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nbdExtents, NbdError, openNbdExport } from '../../../main/core/sources/nbd-client.js';
import { touchedChunks } from '../../../main/core/vault/plan.js';
import { useTmp } from '../../helpers/tmp.js';

/*
 * Coffer's NBD client (the reads of a changed-block backup) against a real NBD server, qemu-nbd
 * on a unix socket: exact bytes at any offset, many reads in flight, refusals as errors.
 */
const noQemuNbd = spawnSync('sh', ['-c', 'command -v qemu-nbd'], { stdio: 'ignore' }).status === 0 ? undefined : 'qemu-nbd is not installed (apt-get install qemu-utils)';
const tmp = useTmp();
const servers: ChildProcess[] = [];
afterAll(() => {
  for (const s of servers) s.kill('SIGTERM');
});

async function serve(file: string, name: string): Promise<string> {
  const sock = path.join(path.dirname(file), `${name}.sock`);
  const s = spawn('qemu-nbd', ['-k', sock, '-x', name, '-f', 'raw', '-r', '--persistent', '--shared=8', file], { stdio: 'ignore' });
  servers.push(s);
  // Bounded wait for the socket to appear (the server's readiness), not a fixed sleep.
  for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 25));
  if (!fs.existsSync(sock)) throw new Error('qemu-nbd did not create its socket');
  return sock;
}

describe.skipIf(!!noQemuNbd)(`NBD client against qemu-nbd${noQemuNbd ? ` (skipped: ${noQemuNbd})` : ''}`, () => {
  it('reads exact ranges, many in flight, and refuses what the export does not have', async () => {
    const dir = tmp();
    const file = path.join(dir, 'disk.raw');
    const data = randomBytes(9 * 1024 * 1024 + 4096);
    fs.writeFileSync(file, data);
    const sock = await serve(file, 'vda');
    const nbd = await openNbdExport(sock, 'vda');
    try {
      expect(nbd.size).toBe(data.length);
      const ranges = [
        [0, 4096],
        [1, 1],
        [128 * 1024, 128 * 1024],
        [data.length - 100, 100],
        [2 * 1024 * 1024 - 7, 5 * 1024 * 1024], // many of the client's requests
      ] as const;
      const got = await Promise.all(ranges.map(([o, l]) => nbd.read(o, l)));
      ranges.forEach(([o, l], i) => expect(got[i]!.equals(data.subarray(o, o + l))).toBe(true));
      // Into the caller's buffer (a segment's place in a larger one): the bytes land there, around it nothing moves.
      const big = Buffer.alloc(3 * 1024 * 1024, 0xee);
      const into = big.subarray(4096, 4096 + 2 * 1024 * 1024);
      const filled = await nbd.read(1024 * 1024 + 3, 2 * 1024 * 1024, into);
      expect(filled.buffer).toBe(big.buffer);
      expect(into.equals(data.subarray(1024 * 1024 + 3, 3 * 1024 * 1024 + 3))).toBe(true);
      expect(big.subarray(0, 4096).every((x) => x === 0xee) && big.subarray(4096 + 2 * 1024 * 1024).every((x) => x === 0xee)).toBe(true);
      expect(nbd.bytesRead).toBe(ranges.reduce((s, [, l]) => s + l, 0) + 2 * 1024 * 1024);
      await expect(nbd.read(data.length - 10, 11)).rejects.toThrow(NbdError);
    } finally {
      await nbd.close();
    }
    // Tiny requests: replies (header and data) split anywhere across the socket's chunks, hundreds in flight.
    const small = await openNbdExport(sock, 'vda', { requestBytes: 1000 });
    try {
      const offsets = Array.from({ length: 64 }, (_, i) => i * 131_071);
      const got = await Promise.all(offsets.map((o) => small.read(o, 9000)));
      offsets.forEach((o, i) => expect(got[i]!.equals(data.subarray(o, o + 9000))).toBe(true));
    } finally {
      await small.close();
    }
    await expect(openNbdExport(sock, 'no-such-export')).rejects.toThrow(/refused export "no-such-export"/);
  });

  it('answers the extents of a metadata context (block status), as a dirty bitmap is read', async () => {
    const dir = tmp();
    const file = path.join(dir, 'sparse.raw');
    // 4 MiB with data at 1 MiB (64 KiB) and at the last 128 KiB: base:allocation's hole bit (1) marks the rest.
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, randomBytes(64 * 1024), 0, 64 * 1024, 1024 * 1024);
    fs.writeSync(fd, randomBytes(128 * 1024), 0, 128 * 1024, 4 * 1024 * 1024 - 128 * 1024);
    fs.closeSync(fd);
    const sock = await serve(file, 'vdb');
    expect(await nbdExtents(sock, 'vdb', 'base:allocation', 1)).toEqual([
      { offset: 0, length: 1024 * 1024 },
      { offset: 1024 * 1024 + 64 * 1024, length: 3 * 1024 * 1024 - 64 * 1024 - 128 * 1024 },
    ]);
    await expect(nbdExtents(sock, 'vdb', 'qemu:dirty-bitmap:none')).rejects.toThrow(/no metadata context|refused/);
  });
});

describe('touched chunks', () => {
  it('rounds dirty extents to whole chunks', () => {
    const dirty = [
      { offset: 65536, length: 131072 },
      { offset: 1245184, length: 4096 },
    ];
    // 128 KiB chunks: the first extent spans chunks 0 and 1, the second lies in chunk 9.
    expect(touchedChunks(dirty, 128 * 1024, 2 * 1024 * 1024)).toEqual([0, 1, 9]);
    // A range past the end touches only the chunks that exist.
    expect(touchedChunks([{ offset: 2 * 1024 * 1024 - 1, length: 10 }], 128 * 1024, 2 * 1024 * 1024)).toEqual([15]);
  });
});
