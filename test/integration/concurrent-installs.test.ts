import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArgsOf, Job, MethodName, ResultOf } from '../../preload/contract.js';
import { Engine } from '../../main/core/engine.js';
import { formatVaultLocation, openStore, type VaultLocation, type VaultStore } from '../../main/core/vault/stores.js';
import { Vault } from '../../main/core/vault/vault.js';
import { createRouter } from '../../main/rpc/router.js';
import { startAzurite, startS3rver, type Emulator } from '../helpers/emulators.js';
import type { InstallReply, InstallRequest } from '../helpers/install-worker.js';
import { makeDisk, sha256File, tempDir } from './vault/helpers.js';
import { REMOTE_IO_HINTS } from '../../main/core/vault/remote.js';
import { bundleChild } from '../helpers/bundle.js';

/**
 * Issue 11 §2: two installs (two real processes, two data folders) backing up different VMs into
 * one vault at the same time, and one pruning while the other backs up, on every backend: a local
 * folder, Azure Blob (azurite) and S3 (s3rver, which ignores create-only writes: the list-based
 * lock protocol is in force there). Afterwards every point verifies and restores byte for byte,
 * a backup that met a prune either completed with all its data or failed with a typed code and
 * kept no point, each install lists exactly the vault's points, and no lock object is left.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
// Inside the repo so the engine finds <repo>/dist/vault-worker.mjs, outside git's view.
const cache = path.join(root, 'node_modules', '.cache', 'coffer-test');
const RACER = path.join(cache, 'concurrent-vault-racer.mjs');
const INSTALL = path.join(cache, 'concurrent-install-worker.mjs');
const PASS = 'team passphrase 11';
const REFUSED = ['VaultBusy', 'VaultChangedDuringBackup'];

type Backend = 'folder' | 'azure' | 's3';

/**
 * Whether createVault accepts object storage in this build (phase-2 helper A wires it): a vault on
 * an Azure URL is refused with "not available in this build yet" until then. The probe's endpoint
 * answers 403 to everything, so a wired build fails fast too (auth or credentials), never hangs.
 */
async function probeObjectStorage(): Promise<{ wired: boolean; reason: string }> {
  const server = http.createServer((_req, res) => res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>AuthenticationFailed</Code></Error>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = tempDir('coffer-probe-');
  const engine = Engine.open({ dataDir: dir });
  try {
    const port = (server.address() as AddressInfo).port;
    const r = await createRouter(engine, 'cli').invoke('createVault', { name: 'probe', region: 'lab', azure: `http://127.0.0.1:${port}/devstoreaccount1/probe`, passphrase: PASS });
    if (!r.ok && r.error.code === 'StorageLocationInvalid' && /not available in this build/.test(r.error.message)) {
      return { wired: false, reason: `createVault refuses object storage in this build (${r.error.message})` };
    }
    return { wired: true, reason: r.ok ? 'createVault accepted an Azure URL' : `createVault tried the Azure URL (${r.error.code})` };
  } finally {
    await engine.close();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const objectStorage = await probeObjectStorage();
if (!objectStorage.wired) console.info(`concurrent installs on Azure and S3 are skipped: ${objectStorage.reason}`);

let dir: string;
/** The common base VMs are made from (random, text-like and empty regions): cross-VM dedup. */
let base: string;

beforeAll(async () => {
  for (const [entry, outfile] of [
    ['vault-racer.ts', RACER],
    ['install-worker.ts', INSTALL],
  ] as const) {
    await bundleChild(path.join(root, 'test', 'helpers', entry), outfile);
  }
  dir = tempDir('coffer-concurrent-');
  base = path.join(dir, 'base.img');
  makeDisk(base, 8, 11);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A VM's disk: a common base with its own random data in the last quarter. */
function vmDisk(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(base, file);
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, randomBytes(size / 4), 0, size / 4, (size / 4) * 3);
  fs.closeSync(fd);
}

/** Changes 512 KiB of a disk at a 128 KiB-aligned offset: some chunks new, most reused. */
function touch(file: string, round: number): void {
  const slots = fs.statSync(file).size / (128 << 10) - 4;
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, randomBytes(512 << 10), 0, 512 << 10, ((round * 37) % slots) * (128 << 10));
  fs.closeSync(fd);
}

let seq = 0;

/** Everything a test needs about one backend: where a fresh vault goes, how to open it, child env. */
interface Place {
  location: VaultLocation;
  /** The createVault / connectVault storage fields of the contract. */
  fields: { path: string } | { azure: string } | { s3: string; endpoint: string; s3Region: string };
  open(create?: boolean): Promise<VaultStore>;
  env: Record<string, string>;
}

function placeFor(backend: Backend, em: Emulator | undefined, name: string): Place {
  if (backend === 'folder') {
    const p = path.join(dir, `${name}-${++seq}`);
    const location: VaultLocation = { kind: 'folder', path: p };
    return { location, fields: { path: p }, open: (create) => openStore(location, { create: create ?? false }), env: {} };
  }
  const location = em!.location('vaults', `${name}-${++seq}`);
  const formatted = formatVaultLocation(location);
  const fields =
    location.kind === 's3' ? { s3: `s3://${location.bucket}/${location.prefix}`, endpoint: em!.endpoint, s3Region: 'us-east-1' } : { azure: formatted };
  return { location, fields, open: (create) => openStore(location, { credentials: em!.credentials, create: create ?? false }), env: em!.env };
}

// ---- vault-engine level: vault-racer.ts children ----

type RacerEvent =
  | { event: 'completed'; id: string; sha256: string }
  | { event: 'refused'; code: string; message: string }
  | { event: 'pruned'; ids: string[]; packsDeleted: number }
  | { event: 'busy' };

interface Racer {
  child: ChildProcess;
  done: Promise<RacerEvent[]>;
}

function racer(args: string[], env: Record<string, string>): Racer {
  const child = spawn(process.execPath, [RACER, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<RacerEvent[]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`${args[0]} ${args[3]} exited ${code ?? signal}: ${err}`));
      resolve(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as RacerEvent),
      );
    });
  });
  return { child, done };
}

// ---- install level: install-worker.ts children ----

class Install {
  private next = 1;
  private readonly pending = new Map<number, (r: InstallReply) => void>();
  private err = '';
  /** How the process ended: its exit code, or the signal that killed it. */
  readonly exited: Promise<number | NodeJS.Signals | null>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    child.on('message', (m: InstallReply) => this.pending.get(m.id)?.(m));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        for (const [id, settle] of this.pending) settle({ id, ok: false, error: { code: 'ChildExited', message: `install ${name} exited ${code ?? signal}: ${this.err}` } });
        this.pending.clear();
        resolve(signal ?? code);
      }),
    );
  }

  static start(name: string, dataDir: string, env: Record<string, string>): Promise<Install> {
    const child = fork(INSTALL, [dataDir], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const inst = new Install(name, child);
    return new Promise((resolve, reject) => {
      inst.pending.set(0, (r) => (r.ok ? resolve(inst) : reject(new Error(r.error.message))));
    });
  }

  private request(req: Omit<InstallRequest, 'id'>): Promise<InstallReply> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.pending.set(id, (r) => {
        this.pending.delete(id);
        resolve(r);
      });
      this.child.send({ ...req, id });
    });
  }

  private async value<T>(req: Omit<InstallRequest, 'id'>): Promise<T> {
    const r = await this.request(req);
    if (!r.ok) throw new Error(`${this.name}: ${r.error.code}: ${r.error.message}`);
    return r.value as T;
  }

  call<M extends MethodName>(method: M, args: ArgsOf<M>): Promise<ResultOf<M>> {
    return this.value({ op: 'invoke', method, args } as Omit<InstallRequest, 'id'>);
  }

  wait(jobs: Job[]): Promise<Job[]> {
    return this.value({ op: 'wait', jobs: jobs.map((j) => j.id) } as Omit<InstallRequest, 'id'>);
  }

  /** Waits for jobs that must complete; a failed one fails the test with its code. */
  async completed(jobs: Job[]): Promise<Job[]> {
    const done = await this.wait(jobs);
    for (const j of done) expect(j.status, `${this.name} ${j.operation}: ${JSON.stringify(j.error)}`).toBe('Completed');
    return done;
  }

  reconcile(vault: string): Promise<unknown> {
    return this.value({ op: 'reconcile', vault } as Omit<InstallRequest, 'id'>);
  }

  retention(vm: string, now: Date): Promise<Job | null> {
    return this.value({ op: 'retention', vm, now: now.toISOString() } as Omit<InstallRequest, 'id'>);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) await this.request({ op: 'close' } as Omit<InstallRequest, 'id'>);
    else this.child.kill('SIGKILL');
    await exited;
  }
}

/** A folder source as a hypervisor holds a VM: its definition (with a UUID) and its raw disk. */
function makeVm(hypervisor: string, name: string, uuid: string): string {
  const folder = path.join(hypervisor, 'shop');
  const disk = path.join(folder, `${name}.img`);
  vmDisk(disk);
  fs.writeFileSync(
    path.join(folder, `${name}.xml`),
    `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>256</memory>
      <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${name}.img'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
  );
  return disk;
}

async function listLocks(store: VaultStore): Promise<string[]> {
  return (await store.list('locks/')).map((o) => o.key);
}

const backends: Backend[] = ['folder', 'azure', 's3'];

describe.each(backends)('two installs against one vault on %s', (backend) => {
  let em: Emulator | undefined;
  const installs: Install[] = [];
  const racers: ChildProcess[] = [];
  beforeAll(async () => {
    if (backend === 'azure') em = await startAzurite();
    if (backend === 's3') em = await startS3rver();
  });
  afterAll(async () => {
    for (const r of racers) if (r.exitCode === null && r.signalCode === null) r.kill('SIGKILL');
    await Promise.all(installs.splice(0).map((i) => i.close()));
    await em?.dispose();
  });

  it('vault engine: two processes back up different disks at once, then one prunes while the other backs up', { timeout: 150_000 }, async () => {
    const place = placeFor(backend, em, 'engine');
    const created = await Vault.create(await place.open(true), { name: 'team', region: 'lab', passphrase: PASS, chunkSize: 64 * 1024 });
    await created.close();
    const loc = formatVaultLocation(place.location);
    const diskB = path.join(dir, `${backend}-engine-b.img`);
    const diskP = path.join(dir, `${backend}-engine-p.img`);
    vmDisk(diskB);
    vmDisk(diskP);
    const start = (args: string[]): Racer => {
      const r = racer(args, place.env);
      racers.push(r.child);
      return r;
    };

    // 1. Two backups of different VMs at the same time: shared locks, both complete.
    const [b1, p1] = await Promise.all([start(['backup', loc, PASS, 'vm-b', diskB, '1']).done, start(['backup', loc, PASS, 'vm-p', diskP, '1']).done]);
    expect(b1.map((e) => e.event)).toEqual(['completed']);
    expect(p1.map((e) => e.event)).toEqual(['completed']);

    // 2. One backs vm-b up three more times while the other backs vm-p up and prunes it, again and
    // again, until the first is done (then it is told to stop, by message).
    const backer = start(['backup', loc, PASS, 'vm-b', diskB, '3']);
    const pruner = start(['pruner', loc, PASS, 'vm-p', diskP]);
    const b2 = await backer.done;
    pruner.child.send('stop');
    const p2 = await pruner.done;

    const events = [...b1, ...p1, ...b2, ...p2];
    const completed = new Map(events.flatMap((e) => (e.event === 'completed' ? [[e.id, e.sha256] as const] : [])));
    const pruned = new Set(events.flatMap((e) => (e.event === 'pruned' ? e.ids : [])));
    // Every backup that did not complete was refused with a typed code, never anything else.
    for (const e of events) if (e.event === 'refused') expect(REFUSED).toContain(e.code);
    expect(b2.filter((e) => e.event === 'completed')).toHaveLength(3);
    expect(p2.some((e) => e.event === 'pruned')).toBe(true);
    console.info(
      `${backend}: backups completed ${completed.size}, refused ${events.filter((e) => e.event === 'refused').length}, ` +
        `prunes ${p2.filter((e) => e.event === 'pruned').length}, prunes refused (busy) ${p2.filter((e) => e.event === 'busy').length}`,
    );

    const store = await place.open();
    const vault = await Vault.open(store, PASS);
    try {
      // Exactly the completed points that were not pruned: a refused backup kept nothing.
      const left = (await vault.listPoints()).map((p) => p.id).sort();
      expect(left).toEqual([...completed.keys()].filter((id) => !pruned.has(id)).sort());
      expect(left.length).toBeGreaterThanOrEqual(5);
      const report = await vault.verify({ full: true });
      expect(report.damaged).toEqual([]);
      expect(report.ok).toBe(true);
      for (const id of left) {
        const r = await vault.restore(id, path.join(dir, `${backend}-engine-r-${id}`));
        expect(sha256File(r.files[0]!.path), `point ${id}`).toBe(completed.get(id));
        fs.rmSync(r.targetDir, { recursive: true, force: true });
      }
      expect(await listLocks(store)).toEqual([]);
    } finally {
      await vault.close();
    }
  });

  /**
   * Install A (its own data folder) creates a vault at `place`, install B connects it under its
   * own name; each adds a folder source with its own VM (vm-a, vm-b), registers it and protects
   * it with the vault's DefaultPolicy. `aEnv` goes to A's process only (a crash hook).
   */
  async function twoInstalls(place: Place, tag: string, opts: { aEnv?: Record<string, string>; diskA?: (file: string) => void } = {}) {
    const a = await Install.start('A', path.join(dir, `${backend}-${tag}-data-a`), { ...place.env, ...opts.aEnv });
    installs.push(a);
    const b = await Install.start('B', path.join(dir, `${backend}-${tag}-data-b`), place.env);
    installs.push(b);
    await a.call('createVault', { name: 'team', region: 'lab', passphrase: PASS, ...place.fields });
    await b.call('connectVault', { name: 'team-b', passphrase: PASS, ...place.fields });
    const disks: Record<string, string> = {};
    for (const [inst, vault, vm, uuid] of [
      [a, 'team', 'vm-a', '0a000000-1111-4222-8333-444455556666'],
      [b, 'team-b', 'vm-b', '0b000000-1111-4222-8333-444455556666'],
    ] as const) {
      const hypervisor = path.join(dir, `${backend}-${tag}-hv-${vm}`);
      disks[vm] = makeVm(hypervisor, vm, uuid);
      if (vm === 'vm-a') opts.diskA?.(disks[vm]);
      await inst.call('addSource', { kind: 'folder', target: hypervisor, region: 'lab', name: `src-${vm}` });
      await inst.completed([await inst.call('discoverVms', { vault })]);
      await inst.completed(await inst.call('registerVms', { vault, vms: [`shop/${vm}`] }));
      await inst.completed(await inst.call('protectVms', { vault, vms: [vm], policy: 'DefaultPolicy' }));
    }
    return { a, b, disks: disks as Record<'vm-a' | 'vm-b', string> };
  }

  const installLevel = backend === 'folder' || objectStorage.wired;
  const skipNote = installLevel ? '' : ` (skipped: ${objectStorage.reason})`;
  it.skipIf(!installLevel)(`installs: both back up at once, one deletes or prunes its points while the other backs up${skipNote}`, { timeout: 180_000 }, async () => {
    const place = placeFor(backend, em, 'installs');
    const { a, b, disks } = await twoInstalls(place, 'installs');
    /** Point id -> digest of the disk it holds; the points the vault should hold now. */
    const digest = new Map<string, string>();
    const alive = { 'vm-a': new Set<string>(), 'vm-b': new Set<string>() };
    const record = (vm: 'vm-a' | 'vm-b', job: Job, sha: string): void => {
      const id = job.details.pointId as string;
      digest.set(id, sha);
      alive[vm].add(id);
    };

    // 1. Both installs back up their VM at the same time, two rounds.
    for (let round = 0; round < 2; round++) {
      if (round > 0) for (const f of Object.values(disks)) touch(f, round);
      const shaA = sha256File(disks['vm-a']);
      const shaB = sha256File(disks['vm-b']);
      const [ja, jb] = await Promise.all([a.call('backupNow', { vms: ['vm-a'] }), b.call('backupNow', { vms: ['vm-b'] })]);
      const [[da], [db]] = await Promise.all([a.completed(ja), b.completed(jb)]);
      record('vm-a', da!, shaA);
      record('vm-b', db!, shaB);
    }

    // 2. A removes vm-a's points (delete backup data, then retention as after a backup) while B
    // backs up: first both at once, then B's backup only once A's prune holds the vault.
    const store = await place.open();
    const pruneHolds = async (): Promise<boolean> => {
      for (let i = 0; i < 5000; i++) if ((await listLocks(store)).some((k) => k.startsWith('locks/exclusive'))) return true;
      return false;
    };
    let raced = 0;
    let refused = 0;
    for (let round = 0; round < 2; round++) {
      touch(disks['vm-b'], 10 + round);
      const shaB = sha256File(disks['vm-b']);
      const removal =
        round === 1
          ? a.retention('vm-a', new Date(Date.now() + 60 * 86_400_000)).then((j) => [j!])
          : a.call('stopProtection', { vm: 'vm-a', deleteData: true, confirmName: 'vm-a' }).then((j) => [j]);
      const [removeJobs, jb] = await Promise.all([removal, (round === 1 ? pruneHolds() : Promise.resolve(false)).then(() => b.call('backupNow', { vms: ['vm-b'] }))]);
      const [[removed], [backedUp]] = await Promise.all([a.completed(removeJobs), b.wait(jb)]);
      expect(removed!.operation).toBe(round === 1 ? 'Prune' : 'DeleteBackupData');
      alive['vm-a'].clear();
      raced++;
      // A backup that meets the prune's lock retries briefly: a short prune is waited out, a long one refuses it.
      if (backedUp!.status === 'Completed') record('vm-b', backedUp!, shaB);
      else {
        // Met the prune: refused with a typed code, and no point of it anywhere.
        expect(backedUp!.status, JSON.stringify(backedUp!.error)).toBe('Failed');
        expect(REFUSED).toContain(backedUp!.error?.code);
        refused++;
        // ...and the admin's next try completes.
        const [retried] = await b.completed(await b.call('backupNow', { vms: ['vm-b'] }));
        record('vm-b', retried!, shaB);
      }
      // A protects vm-a again and backs it up (new data), so the next round has points to remove.
      if (round !== 1) await a.completed(await a.call('protectVms', { vault: 'team', vms: ['vm-a'], policy: 'DefaultPolicy' }));
      touch(disks['vm-a'], 20 + round);
      const shaA = sha256File(disks['vm-a']);
      const [da] = await a.completed(await a.call('backupNow', { vms: ['vm-a'] }));
      record('vm-a', da!, shaA);
    }
    console.info(`${backend} installs: ${raced} removals raced a backup, ${refused} backup(s) refused`);

    // 3. Every install lists exactly the vault's points, its own and the other's.
    const vault = await Vault.open(store, PASS);
    try {
      const inVault = (await vault.listPoints()).map((p) => p.id).sort();
      expect(inVault).toEqual([...alive['vm-a'], ...alive['vm-b']].sort());
      for (const [inst, name] of [
        [a, 'team'],
        [b, 'team-b'],
      ] as const) {
        await inst.reconcile(name);
        for (const vm of ['vm-a', 'vm-b'] as const) {
          const listed = (await inst.call('listPoints', { vm })).map((p) => p.id).sort();
          expect(listed, `${inst.name} lists the points of ${vm}`).toEqual([...alive[vm]].sort());
        }
      }
      // B verifies the vault in full and restores A's newest point, as any install can.
      await b.completed([await b.call('verifyVault', { vault: 'team-b', full: true })]);
      const newestA = [...alive['vm-a']].at(-1)!;
      const target = path.join(dir, `${backend}-b-restores-a`);
      await b.completed([await b.call('restorePoint', { vm: 'vm-a', pointId: newestA, mode: 'disks', targetDir: target })]);
      expect(sha256File(path.join(target, 'vm-a.img'))).toBe(digest.get(newestA));

      // 4. Every point restores byte for byte; the vault verifies; no lock is left behind.
      const report = await vault.verify({ full: true });
      expect(report.damaged).toEqual([]);
      expect(report.ok).toBe(true);
      for (const id of inVault) {
        const r = await vault.restore(id, path.join(dir, `${backend}-installs-r-${id}`));
        const image = r.files.find((f) => f.name.endsWith('.img'))!;
        expect(sha256File(image.path), `point ${id}`).toBe(digest.get(id));
        fs.rmSync(r.targetDir, { recursive: true, force: true });
      }
      expect(await listLocks(store)).toEqual([]);
    } finally {
      await vault.close();
    }
    await Promise.all([a.close(), b.close()]);
  });

  it.skipIf(!installLevel)(`installs: one killed (SIGKILL) mid-upload leaves the vault whole for both; restarted, it reuses the upload${skipNote}`, { timeout: 150_000 }, async () => {
    const place = placeFor(backend, em, 'killed');
    const { a, b, disks } = await twoInstalls(place, 'killed', {
      // A's process dies while writing its second pack (the first pack and its index are durable).
      aEnv: { COFFER_TEST_CRASH_AT: 'pack', COFFER_TEST_CRASH_AFTER: '2' },
      // Incompressible, and more than the packs in flight of the largest pack size (16 MiB on Azure
      // and S3, REMOTE_IO_HINTS): the backup writes a second pack whatever the store.
      diskA: (file) => fs.writeFileSync(file, randomBytes((REMOTE_IO_HINTS.packsInFlight + 1) * REMOTE_IO_HINTS.packBytes)),
    });
    const shaA = sha256File(disks['vm-a']);
    const [ja, jb] = await Promise.all([a.call('backupNow', { vms: ['vm-a'] }), b.call('backupNow', { vms: ['vm-b'] })]);
    // A's job must not end before its process dies: if it does, the test says how it ended
    // instead of waiting for the timeout (a pending request fails when the process is gone: ignored).
    const endedFirst = a.wait(ja).then(
      (j) => `A's backup ended before the crash point: ${JSON.stringify(j)}`,
      () => new Promise<never>(() => undefined),
    );
    expect(await Promise.race([a.exited, endedFirst])).toBe('SIGKILL');
    const [pointB] = await b.completed(jb);

    // A starts again on its data folder: the backup it was running is Failed (Interrupted), no point of it anywhere.
    const a2 = await Install.start('A again', path.join(dir, `${backend}-killed-data-a`), place.env);
    installs.push(a2);
    await a2.call('unlockVault', { name: 'team', passphrase: PASS });
    const [interrupted] = await a2.wait(ja);
    expect(interrupted).toMatchObject({ status: 'Failed', error: { code: 'Interrupted' } });
    expect(await a2.call('listPoints', { vm: 'vm-a' })).toEqual([]);
    const store = await place.open();
    const vault = await Vault.open(store, PASS);
    try {
      expect((await vault.listPoints()).map((p) => p.id)).toEqual([pointB!.details.pointId]);
      expect((await vault.verify({ full: true })).ok).toBe(true);

      // The next backup completes and reuses what the killed one uploaded.
      const [again] = await a2.completed(await a2.call('backupNow', { vms: ['vm-a'] }));
      const { logicalBytes, addedBytes, pointId } = again!.details as { logicalBytes: number; addedBytes: number; pointId: string };
      // (at least a MiB of it: how much was durable when the process died depends on the upload order)
      expect(addedBytes).toBeLessThan(logicalBytes - (1 << 20));
      // B takes the exclusive lock (a prune) although the killed process held a lock: it is gone, so is its lock.
      const [pruned] = await b.completed([(await b.retention('vm-b', new Date(Date.now() + 60 * 86_400_000)))!]);
      expect(pruned!.operation).toBe('Prune');

      await a2.reconcile('team');
      await b.reconcile('team-b');
      for (const inst of [a2, b]) expect((await inst.call('listPoints', { vm: 'vm-a' })).map((p) => p.id), inst.name).toEqual([pointId]);
      // vm-b has no point left; A still shows it (B's protection of it is recorded in the vault), without points.
      for (const inst of [a2, b]) expect(await inst.call('listPoints', { vm: 'vm-b' }), inst.name).toEqual([]);
      expect((await vault.listPoints()).map((p) => p.id)).toEqual([pointId]);
      const target = path.join(dir, `${backend}-killed-restore`);
      await b.completed([await b.call('restorePoint', { vm: 'vm-a', pointId, mode: 'disks', targetDir: target })]);
      expect(sha256File(path.join(target, 'vm-a.img'))).toBe(shaA);
      expect((await vault.verify({ full: true })).ok).toBe(true);
      expect(await listLocks(store)).toEqual([]);
    } finally {
      await vault.close();
    }
    await Promise.all([a2.close(), b.close()]);
  });
});
