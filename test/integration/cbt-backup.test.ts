import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../../preload/contract.js';
import { unwrap } from '../helpers/cli.js';
import { useEngines, type Installed } from '../helpers/engine.js';
import { guestDomainXml, KVM_URI, QEMU_DOMAIN_TYPE, whyNoQemu } from '../helpers/kvm.js';
import { useTmp } from '../helpers/tmp.js';

/*
 * Changed-block tracking of a running domain (issue 13 §1) on a real QEMU (KVM, or TCG where
 * /dev/kvm is absent): libvirt checkpoints + pull backups over NBD. Guest writes go through the
 * QEMU monitor; every point is restored and compared with the disk as the guest saw it (the
 * domain paused, its disk converted to raw). Skipped with the reason where qemu/libvirt is absent.
 */
const URI = KVM_URI;
const noQemu = whyNoQemu(['virsh', 'libvirtd', 'virtlogd', 'qemu-system-x86_64', 'qemu-img', 'qemu-io']);
if (noQemu) console.warn(`changed-block tracking test skipped: ${noQemu}`);

const tmp = useTmp();
const domains: string[] = [];
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', URI, ...args], { encoding: 'utf8' });
afterAll(() => {
  for (const d of domains) {
    spawnSync('virsh', ['-c', URI, 'domjobabort', d], { stdio: 'ignore' });
    spawnSync('virsh', ['-c', URI, 'destroy', d], { stdio: 'ignore' });
    spawnSync('virsh', ['-c', URI, 'undefine', d, '--checkpoints-metadata'], { stdio: 'ignore' });
  }
});
const open = useEngines();

const MiB = 1024 * 1024;
const CHUNK = 128 * 1024;
const DISK_MIB = 16;

function defineDomain(dir: string, name: string, format: 'qcow2' | 'raw'): string {
  const disk = path.join(dir, `${name}.${format}`);
  execFileSync('qemu-img', ['create', '-q', '-f', format, ...(format === 'qcow2' ? ['-o', 'compat=1.1'] : []), disk, `${DISK_MIB}M`]);
  // Data before the first backup, written as a guest would (through QEMU's block layer).
  execFileSync('qemu-io', ['-f', format, '-c', 'write -P 0x5a 0 3M', '-c', 'write -P 0x17 12M 1M', disk], { stdio: 'ignore' });
  const xml = path.join(dir, `${name}.xml`);
  fs.writeFileSync(xml, guestDomainXml({ name, disk, format }));
  virsh('define', xml);
  domains.push(name);
  virsh('start', name);
  return disk;
}

/** A guest write, through the device's block backend (as the guest's own writes go). */
function guestWrite(name: string, pattern: number, offset: number, length: number): void {
  const info = virsh('qemu-monitor-command', name, '--hmp', 'info block');
  const dev = /Attached to:\s+(\S+)/.exec(info)?.[1];
  if (!dev) throw new Error(`no attached block device in: ${info}`);
  virsh('qemu-monitor-command', name, '--hmp', `qemu-io -d ${dev} "write -P 0x${pattern.toString(16)} ${offset} ${length}"`);
}

async function registerAndProtect(inst: Installed, vault: string, name: string) {
  await inst.engine.jobs.wait(unwrap(await inst.router.invoke('discoverVms', { vault })).id);
  const vm = unwrap(await inst.router.invoke('listVms', {})).find((v) => v.name === name)!;
  for (const j of unwrap(await inst.router.invoke('registerVms', { vault, vms: [vm.id] }))) await inst.engine.jobs.wait(j.id);
  for (const j of unwrap(await inst.router.invoke('protectVms', { vault, vms: [vm.id], policy: 'DefaultPolicy' }))) await inst.engine.jobs.wait(j.id);
  return vm;
}

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** sha256 of the disk as the guest sees it right now: paused, converted to raw. */
function guestView(dir: string, name: string, disk: string, format: string): string {
  virsh('suspend', name);
  try {
    const raw = path.join(dir, `view-${randomBytes(3).toString('hex')}.raw`);
    execFileSync('qemu-img', ['convert', '-U', '-f', format, '-O', 'raw', disk, raw]);
    const h = sha(raw);
    fs.rmSync(raw);
    return h;
  } finally {
    virsh('resume', name);
  }
}

async function backup(inst: Installed, vmId: string): Promise<Job> {
  const [job] = unwrap(await inst.router.invoke('backupNow', { vms: [vmId] }));
  const ended = await inst.engine.jobs.wait(job!.id);
  expect(['Completed', 'CompletedWithWarnings'], JSON.stringify(ended.error)).toContain(ended.status);
  // Retention may start a Prune job after the backup: let it end before the next step.
  for (const j of unwrap(await inst.router.invoke('listJobs', {})).jobs.filter((x) => x.status === 'InProgress' || x.status === 'Queued' || x.status === 'Cancelling')) await inst.engine.jobs.wait(j.id);
  return ended;
}

/** Restores a point and answers the sha256 of the restored disk converted to raw, and the restored file's format. */
async function restoredView(inst: Installed, dir: string, vmId: string, pointId: string, diskName: string): Promise<{ sha: string; format: string }> {
  const target = path.join(dir, `restore-${pointId}`);
  const job = unwrap(await inst.router.invoke('restorePoint', { vm: vmId, pointId, mode: 'disks', targetDir: target }));
  const ended = await inst.engine.jobs.wait(job.id);
  expect(ended.status, JSON.stringify(ended.error)).toBe('Completed');
  const file = path.join(target, diskName);
  const format = (JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { format: string }).format;
  const raw = `${file}.raw`;
  execFileSync('qemu-img', ['convert', '-f', format, '-O', 'raw', file, raw]);
  const h = sha(raw);
  fs.rmSync(target, { recursive: true });
  return { sha: h, format };
}

const checkpoints = (name: string) =>
  virsh('checkpoint-list', name, '--name')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** The bitmaps stored in a qcow2 (what QEMU saved when it last closed the image, or loaded when it opened it). */
const imageBitmaps = (disk: string): string[] =>
  ((JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', disk], { encoding: 'utf8' })) as { 'format-specific': { data: { bitmaps?: { name: string }[] } } })['format-specific'].data.bitmaps ?? []).map((b) => b.name);

/** Waits (bounded) until libvirt reports the domain in `state`: libvirt notices a killed QEMU by itself. */
async function waitForState(name: string, state: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (virsh('domstate', name).trim() === state) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not reach state ${state}`);
}

function assertNothingLeft(dir: string, name: string): void {
  expect(virsh('domjobinfo', name)).not.toMatch(/Operation:\s*Backup/);
  expect(fs.readdirSync(dir).filter((f) => f.includes('.scratch.') || f.endsWith('.sock'))).toEqual([]);
  // No vault lock left: the one taken while the hypervisor prepared its view is released.
  const locks = path.join(dir, 'vault', 'locks');
  expect(fs.existsSync(locks) ? fs.readdirSync(locks) : []).toEqual([]);
}

interface DiskReadDetail {
  disk: string;
  read: 'changed' | 'full';
  parent?: string;
  reason?: string;
}
const reads = (job: Job) => job.details.reads as DiskReadDetail[];

describe.skipIf(!!noQemu)(`changed-block tracking of a running ${QEMU_DOMAIN_TYPE} domain${noQemu ? ` (skipped: ${noQemu})` : ''}`, () => {
  it('reads only the dirty chunks, restores every point byte-identical as qcow2, and falls back to full reads with the reason', async () => {
    const dir = tmp();
    fs.chmodSync(dir, 0o755);
    const name = `coffer-cbt-${randomBytes(3).toString('hex')}`;
    const disk = defineDomain(dir, name, 'qcow2');
    const inst = open(path.join(dir, 'data'));
    const { engine, router } = inst;
    unwrap(await router.invoke('createVault', { name: 'cbt', region: 'dc1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
    unwrap(await router.invoke('addSource', { kind: 'libvirt', target: URI, region: 'dc1', name: 'local-qemu' }));
    const vm = await registerAndProtect(inst, 'cbt', name);
    const diskName = path.basename(disk);

    // 1. The first backup reads the whole disk and creates a checkpoint.
    const b1 = await backup(inst, vm.id);
    const view1 = guestView(dir, name, disk, 'qcow2');
    expect(reads(b1)).toEqual([{ disk: diskName, read: 'full', reason: 'firstBackup' }]);
    expect(b1.details.bytesRead).toBe(DISK_MIB * MiB);
    expect(checkpoints(name)).toHaveLength(1);
    assertNothingLeft(dir, name);

    // 2. Guest writes: a 64 KiB write inside one chunk, a 4 KiB one inside another, one across two chunks.
    guestWrite(name, 0xab, 1 * MiB, 64 * 1024);
    guestWrite(name, 0xcd, 9 * MiB, 4096);
    guestWrite(name, 0xef, 5 * MiB - 4096, 8192);
    const b2 = await backup(inst, vm.id);
    const view2 = guestView(dir, name, disk, 'qcow2');
    expect(view2).not.toBe(view1);
    expect(reads(b2)).toEqual([{ disk: diskName, read: 'changed', parent: b1.details.pointId }]);
    // Only the touched chunks came over NBD: 1 + 1 + 2 chunks of 128 KiB (the bitmap's 64 KiB granules round up to chunks).
    expect(b2.details.bytesRead).toBe(4 * CHUNK);
    expect(b2.summary).toMatchObject({ code: 'BackupDone', params: { bytesRead: 4 * CHUNK } });
    expect(checkpoints(name)).toHaveLength(2);
    assertNothingLeft(dir, name);

    // Each point restores as the qcow2 the domain runs on, reading exactly as the guest saw it then.
    const p1 = String(b1.details.pointId);
    const p2 = String(b2.details.pointId);
    expect(await restoredView(inst, dir, vm.id, p1, diskName)).toEqual({ sha: view1, format: 'qcow2' });
    expect(await restoredView(inst, dir, vm.id, p2, diskName)).toEqual({ sha: view2, format: 'qcow2' });

    // 3. Checkpoints deleted behind Coffer's back: a full read that says so.
    for (const c of checkpoints(name)) virsh('checkpoint-delete', name, '--checkpointname', c);
    guestWrite(name, 0x33, 2 * MiB, 64 * 1024);
    const b3 = await backup(inst, vm.id);
    const view3 = guestView(dir, name, disk, 'qcow2');
    expect(reads(b3)).toEqual([{ disk: diskName, read: 'full', reason: 'checkpointMissing' }]);
    expect(b3.details.bytesRead).toBe(DISK_MIB * MiB);
    expect(await restoredView(inst, dir, vm.id, String(b3.details.pointId), diskName)).toEqual({ sha: view3, format: 'qcow2' });
    const cp3 = checkpoints(name);
    expect(cp3).toHaveLength(1);

    // 4. The point whose checkpoint the domain has was deleted (here: by another Coffer pruning the
    // vault, so this one did not delete the checkpoint): full read, and the orphan checkpoint goes.
    const vault = await engine.vaults.openVault('cbt');
    await vault.deletePoints([String(b3.details.pointId)]);
    engine.db.prepare('DELETE FROM points WHERE id = ?').run(b3.details.pointId);
    guestWrite(name, 0x44, 7 * MiB, 64 * 1024);
    const b4 = await backup(inst, vm.id);
    const view4 = guestView(dir, name, disk, 'qcow2');
    expect(reads(b4)).toEqual([{ disk: diskName, read: 'full', reason: 'parentDeleted' }]);
    expect(checkpoints(name)).toHaveLength(1);
    expect(checkpoints(name)).not.toContain(cp3[0]);
    expect(await restoredView(inst, dir, vm.id, String(b4.details.pointId), diskName)).toEqual({ sha: view4, format: 'qcow2' });

    // 5. Incremental again on top of the full read; then retention deletes points and their checkpoints.
    guestWrite(name, 0x55, 15 * MiB, 64 * 1024);
    const b5 = await backup(inst, vm.id);
    expect(reads(b5)).toEqual([{ disk: diskName, read: 'changed', parent: b4.details.pointId }]);
    expect(b5.details.bytesRead).toBe(CHUNK);
    const cpBefore6 = checkpoints(name);
    expect(await restoredView(inst, dir, vm.id, String(b5.details.pointId), diskName)).toEqual({ sha: guestView(dir, name, disk, 'qcow2'), format: 'qcow2' });
    expect(checkpoints(name)).toHaveLength(2);

    // 6. The domain killed (its bitmaps never saved) and started again: QEMU refuses the parent's
    // bitmap, so a full read that says so. The same QEMU process as the guest's own writes: no boot needed.
    guestWrite(name, 0x66, 3 * MiB, 64 * 1024);
    process.kill(Number(fs.readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8').trim()), 'SIGKILL');
    await waitForState(name, 'shut off');
    virsh('start', name);
    const b6 = await backup(inst, vm.id);
    expect(reads(b6)).toEqual([{ disk: diskName, read: 'full', reason: 'domainRestarted' }]);
    expect(b6.details.bytesRead).toBe(DISK_MIB * MiB);
    expect(await restoredView(inst, dir, vm.id, String(b6.details.pointId), diskName)).toEqual({ sha: guestView(dir, name, disk, 'qcow2'), format: 'qcow2' });
    const cp6 = checkpoints(name).filter((c) => !cpBefore6.includes(c));
    expect(cp6).toHaveLength(1);

    // 7. The domain stopped (its bitmaps saved in the image) and defined anew under its name and
    // UUID, as a transient domain is recreated: the checkpoints are gone, their bitmaps left in
    // the qcow2. A full read that says so, and the left bitmap is removed.
    const inactive = path.join(dir, 'inactive.xml');
    fs.writeFileSync(inactive, virsh('dumpxml', '--inactive', name));
    virsh('destroy', name);
    expect(imageBitmaps(disk)).toContain(cp6[0]);
    virsh('undefine', name, '--checkpoints-metadata');
    virsh('define', inactive);
    virsh('start', name);
    expect(checkpoints(name)).toEqual([]);
    guestWrite(name, 0x77, 11 * MiB, 64 * 1024);
    const b7 = await backup(inst, vm.id);
    expect(reads(b7)).toEqual([{ disk: diskName, read: 'full', reason: 'domainRecreated' }]);
    expect(await restoredView(inst, dir, vm.id, String(b7.details.pointId), diskName)).toEqual({ sha: guestView(dir, name, disk, 'qcow2'), format: 'qcow2' });
    expect(imageBitmaps(disk)).not.toContain(cp6[0]);
    expect(checkpoints(name)).toHaveLength(1);
    // Deleting the VM's backup data deletes the checkpoints of its points too.
    const stop = unwrap(await router.invoke('stopProtection', { vm: vm.id, deleteData: true, confirmName: name }));
    expect((await engine.jobs.wait(stop.id)).status).toBe('Completed');
    expect(checkpoints(name)).toEqual([]);
    assertNothingLeft(dir, name);
  }, 480_000);

  it('reads a raw disk in full every time (no persistent bitmap), still byte-identical', async () => {
    const dir = tmp();
    fs.chmodSync(dir, 0o755);
    const name = `coffer-cbt-raw-${randomBytes(3).toString('hex')}`;
    const disk = defineDomain(dir, name, 'raw');
    const inst = open(path.join(dir, 'data'));
    unwrap(await inst.router.invoke('createVault', { name: 'raw', region: 'dc1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
    unwrap(await inst.router.invoke('addSource', { kind: 'libvirt', target: URI, region: 'dc1', name: 'local-qemu' }));
    const vm = await registerAndProtect(inst, 'raw', name);
    const diskName = path.basename(disk);
    await backup(inst, vm.id);
    guestWrite(name, 0xab, 1 * MiB, 64 * 1024);
    const b2 = await backup(inst, vm.id);
    expect(reads(b2)).toEqual([{ disk: diskName, read: 'full', reason: 'bitmapUnsupported' }]);
    expect(b2.details.bytesRead).toBe(DISK_MIB * MiB);
    expect(checkpoints(name)).toEqual([]);
    expect(await restoredView(inst, dir, vm.id, String(b2.details.pointId), diskName)).toEqual({ sha: guestView(dir, name, disk, 'raw'), format: 'raw' });
    assertNothingLeft(dir, name);
  }, 240_000);
});
