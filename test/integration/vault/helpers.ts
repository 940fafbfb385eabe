import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function tempDir(prefix = 'coffer-vault-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Writes a disk image of `mib` MiB: random, text-like and duplicated regions with holes, at
 * offsets that do not line up with chunk boundaries (like real images).
 */
export function makeDisk(file: string, mib: number, seed = 1): void {
  const size = mib * 1024 * 1024;
  const fd = fs.openSync(file, 'w');
  fs.ftruncateSync(fd, size); // all holes to start with
  let a = seed >>> 0;
  // mulberry32: small deterministic PRNG
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  for (let pos = 0; pos < size; ) {
    const len = Math.min(size - pos, (next() % 1024) * 1024 + 4096);
    const kind = next() % 4;
    if (kind === 1) fs.writeSync(fd, randomBytes(len), 0, len, pos);
    else if (kind === 2) fs.writeSync(fd, Buffer.from(`log line ${seed} ${pos} `.repeat(Math.ceil(len / 10))).subarray(0, len), 0, len, pos);
    pos += len; // kinds 0 and 3: zeros (holes)
  }
  fs.closeSync(fd);
}

export function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
  }
  fs.closeSync(fd);
  return h.digest('hex');
}

/** Every file under dir (relative paths), including temp files a crash might leave. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

export function dirBytes(dir: string): number {
  return listFiles(dir).reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
}
