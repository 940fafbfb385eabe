import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupProgress } from '../../../main/core/vault/backup.js';
import { REMOTE_IO_HINTS } from '../../../main/core/vault/remote.js';
import type { ObjectStore } from '../../../main/core/vault/storage.js';
import { openStore } from '../../../main/core/vault/stores.js';
import { Vault } from '../../../main/core/vault/vault.js';
import { startAzurite, type Emulator } from '../../helpers/emulators.js';
import { tempDir } from '../vault/helpers.js';

/**
 * Backup progress on object storage says what went out, not what was read: while the first pack
 * cannot reach the server, the bar stays at zero although the whole disk has been read, and the
 * uploaded figure is the bytes of the objects the server accepted.
 */
const CHUNK = 64 * 1024;
const SEGMENT = 4 * 1024 * 1024;
/**
 * Enough whole 4 MiB segments to fill one pack more than the backup writes at once: reading the
 * last of them waits until a pack after the held one is in the store, so when the whole disk has
 * been read a later pack has gone up, whatever the timing.
 */
const SIZE = Math.ceil(((REMOTE_IO_HINTS.packsInFlight + 1) * REMOTE_IO_HINTS.packBytes) / SEGMENT) * SEGMENT;

let dir: string;
let disk: string;
let repeated: string;
let em: Emulator;

beforeAll(async () => {
  dir = tempDir('coffer-progress-');
  disk = path.join(dir, 'disk.img');
  fs.writeFileSync(disk, randomBytes(SIZE)); // incompressible, no zeros: every byte must go up
  // One random 4 MiB block six times: the later copies are safe only once the first one's pack is.
  repeated = path.join(dir, 'repeated.img');
  const block = randomBytes(SEGMENT);
  fs.writeFileSync(repeated, Buffer.concat(Array.from({ length: SIZE / block.length }, () => block)));
  em = await startAzurite();
});
afterAll(async () => {
  await em.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Polls a condition (bounded): the backup runs meanwhile, nothing is timed. */
async function until(what: string, cond: () => boolean, maxMs = 60_000): Promise<void> {
  for (const end = Date.now() + maxMs; !cond(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('backup progress on azurite', () => {
  let n = 0;
  it.each([
    ['a disk of new data', () => disk, true],
    ['a disk that repeats one block', () => repeated, false],
  ])('counts as done only what is in the store, and reports the bytes uploaded (%s)', async (_what, diskOf, laterPacks) => {
    const loc = em.location('vaults', `progress/v${++n}`);
    const inner = await openStore(loc, { credentials: em.credentials, create: true });
    await (await Vault.create(inner, { name: 'p', region: 'local', passphrase: 'pw', chunkSize: CHUNK })).close();

    // The first pack's upload is held until the test lets it go; every other put goes through.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = false;
    let accepted = 0;
    const store: ObjectStore = Object.create(inner) as ObjectStore;
    store.put = async (key, data) => {
      if (key.startsWith('packs/') && !held) {
        held = true;
        await gate;
      }
      await inner.put(key, data);
      accepted += data.length;
    };

    const events: BackupProgress[] = [];
    const vault = await Vault.open(store, 'pw');
    try {
      const running = vault.backup({ vmName: 'web', disks: [{ name: 'disk.img', path: diskOf() }], onProgress: (p) => events.push({ ...p }) });
      // The whole disk read while the first pack is held, and (new data) a later pack in the store.
      await until('the whole disk read while the first pack is held', () => events.some((e) => e.bytesRead === SIZE && (!laterPacks || e.bytesUploaded > 0)));
      const whileHeld = events.at(-1)!;
      // Read to the end, yet nothing counts as done while the first pack is not in the store (packs
      // are safe in order: a later pack alone does not make a point), and the rate claims nothing.
      expect(whileHeld.bytesDone).toBe(0);
      expect(whileHeld.bytesPerSecond).toBe(0);
      // The later packs did go up (one pack holds the repeated block: none; the disk's chunk list may), and that much is reported as uploaded, never more.
      if (laterPacks) expect(whileHeld.bytesUploaded).toBeGreaterThan(0);
      expect(whileHeld.bytesUploaded).toBeLessThanOrEqual(accepted);
      release();
      const point = await running;

      for (let i = 1; i < events.length; i++) {
        const [a, b] = [events[i - 1]!, events[i]!];
        expect(b.bytesDone).toBeGreaterThanOrEqual(a.bytesDone);
        expect(b.bytesUploaded).toBeGreaterThanOrEqual(a.bytesUploaded);
        expect(b.bytesDone).toBeLessThanOrEqual(b.bytesRead);
      }
      const last = events.at(-1)!;
      expect(last.bytesDone).toBe(SIZE);
      expect(last.bytesRead).toBe(SIZE);
      // Uploaded = the sizes of the objects this backup put (packs, index objects, chunk lists, manifest), as the server lists them.
      const stored = (await inner.list('')).filter((o) => /^(packs|index|chunklists|points)\//.test(o.key)).reduce((s, o) => s + o.size, 0);
      expect(last.bytesUploaded).toBe(stored);
      expect(last.bytesUploaded).toBe(point.addedBytes);
    } finally {
      await vault.close();
    }
  });
});
