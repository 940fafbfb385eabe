// Child process of the concurrent-installs tests at the vault-engine level: one process against a
// vault on any backend (a folder, azurite, s3rver), given by its formatted location; object-store
// credentials come from the environment, as for a scheduled job.
//
//   vault-racer.ts backup LOCATION PW VM DISK ROUNDS
//     backs VM up until ROUNDS backups completed (at most 3*ROUNDS attempts), changing 512 KiB of
//     DISK before each attempt. Prints one JSON line per attempt:
//       {"event":"completed","id":..,"sha256":..}  the point and the digest of the disk it holds
//       {"event":"refused","code":..}              VaultBusy / VaultChangedDuringBackup: no point kept
//   vault-racer.ts pruner LOCATION PW VM DISK
//     until the parent sends "stop" (IPC), at most 60 times: backs VM up, then prunes every point
//     of VM (deletes them and collects garbage). Prints the same lines, plus
//       {"event":"pruned","ids":[..],"packsDeleted":n} / {"event":"busy"}
// Any other error ends the process with a non-zero code and the error on stderr.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { isCofferError } from '../../main/core/errors.js';
import { openStore, parseStoredLocation } from '../../main/core/vault/stores.js';
import { Vault } from '../../main/core/vault/vault.js';

const [mode, location, passphrase, vmName, disk, rounds] = process.argv.slice(2) as [string, string, string, string, string, string | undefined];
const say = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const REFUSALS = ['VaultBusy', 'VaultChangedDuringBackup'] as const;

let stop = false;
process.on('message', (m) => {
  if (m === 'stop') stop = true;
});

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** New data in the VM: 512 KiB at a random 64 KiB-aligned offset (so some chunks change, most stay). */
function touch(file: string): void {
  const size = fs.statSync(file).size;
  const len = 512 * 1024;
  const at = Math.floor(Math.random() * ((size - len) / 65536)) * 65536;
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, randomBytes(len), 0, len, at);
  fs.closeSync(fd);
}

const vault = await Vault.open(await openStore(parseStoredLocation(location)), passphrase);
vault.workers = 1;

async function backupOnce(): Promise<string | null> {
  touch(disk);
  const digest = sha256(disk);
  try {
    const p = await vault.backup({ vmName, disks: [{ name: 'disk.img', path: disk }] });
    say({ event: 'completed', id: p.id, sha256: digest });
    return p.id;
  } catch (e) {
    const code = REFUSALS.find((c) => isCofferError(e, c));
    if (!code) throw e;
    say({ event: 'refused', code, message: (e as Error).message });
    return null;
  }
}

try {
  if (mode === 'backup') {
    const want = Number(rounds);
    let done = 0;
    for (let i = 0; i < 3 * want && done < want; i++) if (await backupOnce()) done++;
  } else if (mode === 'pruner') {
    const mine = new Set<string>();
    for (let i = 0; i < 60 && !stop; i++) {
      const id = await backupOnce();
      if (id) mine.add(id);
      const ids = [...mine];
      try {
        // Odd rounds wait for the backups (with a short backoff), even ones give up at once.
        const r = await vault.prune(ids, i % 2 ? { minDelayMs: 20, maxWaitMs: 60_000 } : { wait: false });
        for (const x of ids) mine.delete(x);
        say({ event: 'pruned', ids, packsDeleted: r.packsDeleted });
      } catch (e) {
        if (!isCofferError(e, 'VaultBusy')) throw e;
        say({ event: 'busy' });
      }
    }
  } else throw new Error(`unknown mode ${mode}`);
} finally {
  await vault.close();
}
process.disconnect?.();
