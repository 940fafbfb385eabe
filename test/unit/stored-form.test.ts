// A disk stored as the guest saw it is written back in its original format in place: one
// temporary (convertDisk's `.partial`), the restored file's permissions, nothing left beside it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertDisk } from '../../main/core/protection/convert.js';
import { writeOriginalFormats } from '../../main/core/protection/stored-form.js';
import { detectDiskFormat } from '../../main/core/sources/formats/disk-image.js';
import type { Manifest } from '../../main/core/vault/format.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

describe('writing a guest-form disk back in its original format', () => {
  it('converts in place through one temporary and keeps the restored file mode', async () => {
    const dir = tmp();
    const file = path.join(dir, 'web01.qcow2');
    fs.writeFileSync(file, Buffer.alloc(1 << 20, 7));
    fs.chmodSync(file, 0o640);
    const m = { disks: [{ name: 'web01.qcow2', stored: { form: 'guest', format: 'qcow2' } }] } as unknown as Manifest;
    await writeOriginalFormats(m, new Map([['web01.qcow2', file]]));
    expect(fs.readdirSync(dir)).toEqual(['web01.qcow2']);
    expect(await detectDiskFormat(file)).toBe('qcow2');
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
  });

  it('a cancelled conversion leaves the source as it was and no temporary', async () => {
    const dir = tmp();
    const file = path.join(dir, 'web01.img');
    fs.writeFileSync(file, Buffer.alloc(1 << 20, 7));
    const ac = new AbortController();
    ac.abort(new Error('cancelled'));
    await expect(convertDisk(file, 'raw', file, 'qcow2', { signal: ac.signal, fsync: true })).rejects.toThrow('cancelled');
    expect(fs.readdirSync(dir)).toEqual(['web01.img']);
    expect(fs.readFileSync(file).equals(Buffer.alloc(1 << 20, 7))).toBe(true);
  });
});
