import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unwrap } from '../helpers/cli.js';
import { useEngines } from '../helpers/engine.js';
import { guestDomainXml, KVM_URI, whyNoQemu } from '../helpers/kvm.js';
import { useTmp } from '../helpers/tmp.js';

/*
 * Backup Now of a running QEMU domain (KVM, or TCG without /dev/kvm) through Coffer's engine:
 * libvirt source, discover, register, protect, back up while it runs (changed-block tracking's
 * point-in-time view), then check the domain runs on its original disk with no overlay left, and
 * that the point restores to a valid image. Skipped (with the reason) where qemu or libvirtd cannot run.
 */
const URI = KVM_URI;
const noKvm = whyNoQemu();
if (noKvm) console.warn(`live backup test skipped: ${noKvm}`);

const tmp = useTmp();
const domains: string[] = [];
afterAll(() => {
  for (const d of domains) {
    spawnSync('virsh', ['-c', URI, 'destroy', d], { stdio: 'ignore' });
    spawnSync('virsh', ['-c', URI, 'undefine', d, '--checkpoints-metadata'], { stdio: 'ignore' });
  }
});

const open = useEngines();

describe.skipIf(!!noKvm)(`live backup of a running KVM domain${noKvm ? ` (skipped: ${noKvm})` : ''}`, () => {
  it('reads a point-in-time view while the VM runs, leaves no overlay, marks crash consistency without a guest agent', async () => {
    const dir = tmp();
    fs.chmodSync(dir, 0o755);
    const name = `coffer-live-${randomBytes(3).toString('hex')}`;
    const disk = path.join(dir, `${name}.qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '32M']);
    const xml = path.join(dir, `${name}.xml`);
    fs.writeFileSync(xml, guestDomainXml({ name, disk }));
    execFileSync('virsh', ['-c', URI, 'create', xml]);
    domains.push(name);

    const { engine, router } = open(path.join(dir, 'data'));
    unwrap(await router.invoke('createVault', { name: 'kvm', region: 'dc1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
    unwrap(await router.invoke('addSource', { kind: 'libvirt', target: URI, region: 'dc1', name: 'local-kvm' }));
    await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'kvm' })).id);
    const vm = unwrap(await router.invoke('listVms', {})).find((v) => v.name === name)!;
    expect(vm).toMatchObject({ powerState: 'running', cloudService: 'localhost' });
    for (const j of unwrap(await router.invoke('registerVms', { vault: 'kvm', vms: [vm.id] }))) await engine.jobs.wait(j.id);
    for (const j of unwrap(await router.invoke('protectVms', { vault: 'kvm', vms: [vm.id], policy: 'DefaultPolicy' }))) await engine.jobs.wait(j.id);

    const [job] = unwrap(await router.invoke('backupNow', { vms: [vm.id] }));
    const ended = await engine.jobs.wait(job!.id);
    expect(ended.status, JSON.stringify(ended.error)).toBe('CompletedWithWarnings');
    expect(ended.warnings.map((w) => w.code)).toContain('GuestAgentUnavailable');

    // The level the snapshot reached (no agent channel: crash), as the job and the point record it.
    expect(ended.details).toMatchObject({ consistency: 'crash' });
    const [point] = unwrap(await router.invoke('listPoints', { vm: vm.id }));
    expect(point!.consistency).toBe('crash');

    // Shut off, the same domain is backed up from its files: offline, not crash.
    // Persistent under the same UUID (a definition without one would be another domain of the same name).
    const uuid = execFileSync('virsh', ['-c', URI, 'domuuid', name], { encoding: 'utf8' }).trim();
    fs.writeFileSync(xml, fs.readFileSync(xml, 'utf8').replace('</name>', `</name><uuid>${uuid}</uuid>`));
    execFileSync('virsh', ['-c', URI, 'define', xml]);
    execFileSync('virsh', ['-c', URI, 'destroy', name]);
    await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'kvm' })).id);
    const [offJob] = unwrap(await router.invoke('backupNow', { vms: [vm.id] }));
    expect(await engine.jobs.wait(offJob!.id)).toMatchObject({ status: 'Completed', details: { consistency: 'offline' } });
    execFileSync('virsh', ['-c', URI, 'start', name]);
    expect(unwrap(await router.invoke('listPoints', { vm: vm.id }))[0]!.consistency).toBe('offline');
    expect(execFileSync('virsh', ['-c', URI, 'domstate', name], { encoding: 'utf8' }).trim()).toBe('running');
    expect(execFileSync('virsh', ['-c', URI, 'domblklist', name], { encoding: 'utf8' })).toContain(disk);
    expect(fs.readdirSync(dir).filter((f) => f.includes('overlay'))).toEqual([]);

    const target = path.join(dir, 'restored');
    const restore = unwrap(await router.invoke('restorePoint', { vm: vm.id, pointId: point!.id, mode: 'disks', targetDir: target }));
    expect((await engine.jobs.wait(restore.id)).status).toBe('Completed');
    expect(spawnSync('qemu-img', ['check', path.join(target, path.basename(disk))]).status).toBe(0);
  });
});
