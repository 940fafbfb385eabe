import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { englishJobText, type DiskRead, type Job } from '../../../preload/contract.js';
import { Engine } from '../../../main/core/engine.js';
import { planDisks } from '../../../main/core/protection/disk-plans.js';
import type { Manifest } from '../../../main/core/vault/format.js';
import { createRouter } from '../../../main/rpc/router.js';
import { cofferIn, unwrap } from '../../helpers/cli.js';
import { useTmp } from '../../helpers/tmp.js';
import { makeDisk, sha256File } from '../vault/helpers.js';

// Issue 13 §2 through the product path: a folder source's VM (off), protected, backed up again
// and again. An untouched disk is not read; a touched one is, with the reason in the job's result.
const tmp = useTmp();
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

const domain = `<domain type='kvm'><name>web</name><uuid>7a1b2c3d-1111-4222-8333-444455556677</uuid><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='web.img'/><target dev='vda'/></disk></devices></domain>`;

async function protectedWeb(fullReadEvery: number) {
  const dir = tmp();
  const root = path.join(dir, 'src');
  fs.mkdirSync(root);
  const disk = path.join(root, 'web.img');
  makeDisk(disk, 6, 11);
  fs.writeFileSync(path.join(root, 'web.xml'), domain);
  const engine = Engine.open({ dataDir: path.join(dir, 'data') });
  engines.push(engine);
  const router = createRouter(engine, 'cli');
  unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
  unwrap(await router.invoke('addSource', { kind: 'folder', target: root, region: 'r1', name: 'lab' }));
  await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);
  for (const j of unwrap(await router.invoke('registerVms', { vault: 'vault-a', vms: ['web'] }))) await engine.jobs.wait(j.id);
  unwrap(
    await router.invoke('createPolicy', { vault: 'vault-a', name: 'Nightly', spec: { schedule: { kind: 'daily', times: ['22:00'] }, retention: { dailyDays: 30 }, fullReadEvery } }),
  );
  for (const j of unwrap(await router.invoke('protectVms', { vault: 'vault-a', vms: ['web'], policy: 'Nightly' }))) await engine.jobs.wait(j.id);
  const backup = async (fullRead?: boolean): Promise<Job> =>
    engine.jobs.wait(unwrap(await router.invoke('backupNow', { vms: ['web'], ...(fullRead ? { fullRead } : {}) }))[0]!.id);
  return { dir, root, disk, engine, router, backup };
}

/** What the job's result says: bytes read, and how each disk was got. */
function readsOf(job: Job): { bytesRead: number; reads: DiskRead[] } {
  expect(job.status).toBe('Completed');
  const s = job.summary;
  if (s?.code !== 'BackupDone') throw new Error(`not a backup result: ${JSON.stringify(s)}`);
  return { bytesRead: s.params.bytesRead, reads: s.params.reads ?? [] };
}

describe('backups of a VM that is off', () => {
  it('do not read an untouched disk again, say "unchanged since point X", and restore it byte-identical', async () => {
    const { dir, disk, router, backup } = await protectedWeb(7);
    const size = fs.statSync(disk).size;
    const first = await backup();
    expect(readsOf(first).reads).toEqual([{ disk: 'web.img', read: 'full', reason: 'firstBackup' }]);
    expect(readsOf(first).bytesRead).toBeGreaterThan(0);
    expect(readsOf(first).bytesRead).toBeLessThanOrEqual(size);
    const p1 = first.details!.pointId as string;

    const second = await backup();
    expect(readsOf(second)).toEqual({ bytesRead: 0, reads: [{ disk: 'web.img', read: 'unchanged', parent: p1 }] });
    expect(englishJobText(second.summary!)).toContain(`web.img: unchanged since point ${p1}.`);
    const p2 = second.details!.pointId as string;

    const target = path.join(dir, 'restored');
    const restore = unwrap(await router.invoke('restorePoint', { vm: 'web', pointId: p2, mode: 'disks', targetDir: target }));
    const engine = engines[0]!;
    expect((await engine.jobs.wait(restore.id)).status).toBe('Completed');
    expect(sha256File(path.join(target, 'web.img'))).toBe(sha256File(disk));

    // A tool that writes and then puts the old mtime back: the ctime still tells.
    const { mtime } = fs.statSync(disk);
    fs.writeFileSync(disk, Buffer.alloc(4096, 0x5a), { flag: 'r+' });
    fs.utimesSync(disk, mtime, mtime);
    const third = await backup();
    expect(readsOf(third).reads).toEqual([{ disk: 'web.img', read: 'full', reason: 'fileChanged' }]);
    expect(readsOf(third).bytesRead).toBeGreaterThan(0);
    expect(englishJobText(third.summary!)).toContain('web.img: read in full (the file changed since the last point).');

    const forced = await backup(true);
    expect(readsOf(forced).reads).toEqual([{ disk: 'web.img', read: 'full', reason: 'forced' }]);
    expect(readsOf(forced).bytesRead).toBeGreaterThan(0);
  });

  it("read a disk in full every N backups (the policy's fullReadEvery), and on `backup now --full-read`", async () => {
    const { dir, backup } = await protectedWeb(3);
    const reads: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = readsOf(await backup()).reads[0]!;
      reads.push(r.read === 'full' ? r.reason! : r.read);
    }
    // Full, then two reused, then full again: every third backup reads the disk.
    expect(reads).toEqual(['firstBackup', 'unchanged', 'unchanged', 'periodic', 'unchanged', 'unchanged', 'periodic']);

    // The CLI, in its own process on the same data folder (the vault locked there: a passphrase file).
    await engines.pop()!.close();
    const pass = path.join(dir, 'pass');
    fs.writeFileSync(pass, 'correct horse battery\n', { mode: 0o600 });
    const cli = cofferIn(path.join(dir, 'data'));
    const out = cli('backup', 'now', 'web', '--full-read', '--wait', '--json', '--passphrase-file', pass);
    expect(out.code, out.err).toBe(0);
    const [job] = JSON.parse(out.out) as Job[];
    expect(readsOf(job!).reads).toEqual([{ disk: 'web.img', read: 'full', reason: 'forced' }]);
    const plain = cli('backup', 'now', 'web', '--wait', '--passphrase-file', pass);
    expect(plain.out, plain.err).toMatch(/web\.img: unchanged since point \S+\./);
  });
});

describe('disk plans of the protection layer', () => {
  it('reads in full without a usable parent, and says why', async () => {
    const dir = tmp();
    const disk = path.join(dir, 'd.img');
    fs.writeFileSync(disk, Buffer.alloc(8192, 1));
    const st = fs.statSync(disk);
    const entry = (source: Manifest['disks'][number]['source'], size = st.size) => ({ name: 'd.img', size, sha256: '0'.repeat(64), chunks: '', zeroBytes: 0, ...(source ? { source } : {}) });
    const manifest = (disks: Manifest['disks']): Manifest => ({ disks }) as unknown as Manifest;
    const plan = async (opts: { consistency?: 'offline' | 'crash'; points?: Array<{ id: string; diskNames: string[] }>; disks?: Manifest['disks'] }) =>
      (
        await planDisks({
          points: opts.points ?? [{ id: 'p1', diskNames: ['d.img'] }],
          disks: [{ name: 'd.img', path: disk }],
          consistency: opts.consistency ?? 'offline',
          fullRead: false,
          fullReadEvery: 7,
          readManifest: async () => manifest(opts.disks ?? []),
        })
      )[0]!;
    const stamp = { path: disk, mtimeMs: st.mtimeMs, ino: st.ino };
    expect((await plan({ points: [] })).reason).toBe('firstBackup');
    expect((await plan({ points: [{ id: 'p1', diskNames: ['other.img'] }] })).reason).toBe('noParent');
    expect((await plan({ disks: [entry({ ...stamp, ctimeMs: st.ctimeMs })], consistency: 'crash' })).reason).toBe('vmRunning');
    // An entry written before ctime was recorded never counts as unchanged.
    expect((await plan({ disks: [entry(stamp)] })).reason).toBe('fileChanged');
    expect((await plan({ disks: [entry({ ...stamp, ctimeMs: st.ctimeMs }, st.size + 1)] })).reason).toBe('sizeChanged');
    const reused = await plan({ disks: [entry({ ...stamp, ctimeMs: st.ctimeMs })] });
    expect(reused.reason).toBeUndefined();
    expect(reused.plan?.parent?.pointId).toBe('p1');
  });
});
