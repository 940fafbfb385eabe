// Test restore on a real QEMU guest (KVM, or TCG where /dev/kvm is absent): a tiny VM the test
// builds (Debian's cloud kernel, direct kernel boot, a busybox initramfs whose /init prints the
// marker it reads from the first sector of its disk) is backed up through Coffer from
// qemu:///system, then "Test restore" boots the point as coffer-test-... on an isolated network:
// (256 MiB: Debian's cloud kernel does not boot in 64) the heartbeat carries the disk's marker, so it proves the disk restored. A heartbeat the guest
// never prints fails with RestoreTestNoHeartbeat and the serial lines. Afterwards no coffer-test
// domain, network or disk is left, and a test cut short by a crash is cleaned at the next start.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unwrap } from '../helpers/cli.js';
import { discoverRegisterProtect, useEngines } from '../helpers/engine.js';
import { KVM_URI, QEMU_DOMAIN_TYPE, whyNoQemu } from '../helpers/kvm.js';
import { useTmp } from '../helpers/tmp.js';

const URI = KVM_URI;
const kernel = fs.existsSync('/boot') ? fs.readdirSync('/boot').find((f) => /^vmlinuz-.*-cloud-amd64$/.test(f)) : undefined;
const release = kernel?.replace(/^vmlinuz-/, '');
const modules = release ? `/lib/modules/${release}/kernel/drivers` : '';
const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((b) => fs.existsSync(b));
const hasCpio = spawnSync('sh', ['-c', 'command -v cpio'], { stdio: 'ignore' }).status === 0;
const why =
  whyNoQemu() ??
  (!kernel ? "no Debian cloud kernel in /boot (apt-get install linux-image-cloud-amd64)" : undefined) ??
  (!busybox ? 'busybox is not installed (apt-get install busybox-static)' : undefined) ??
  (!hasCpio ? 'cpio is not installed (apt-get install cpio)' : undefined) ??
  (!fs.existsSync(`${modules}/block/virtio_blk.ko`) ? `no uncompressed virtio_blk module in ${modules}` : undefined);
if (why) console.warn(`test restore on QEMU skipped: ${why}`);
/**
 * KVM where a guest kernel really boots under it; else QEMU's TCG. Some nested hosts expose a
 * /dev/kvm whose guests never get past the kernel's first instructions (a CPU model whose features
 * the host lacks; "failed to set MSR" with -cpu host): the kernel is booted once, bare, for its banner.
 */
function domainType(): { type: string; note: string } {
  if (why || QEMU_DOMAIN_TYPE !== 'kvm') return { type: QEMU_DOMAIN_TYPE, note: '' };
  const r = spawnSync('qemu-system-x86_64', ['-accel', 'kvm', '-m', '128', '-kernel', `/boot/${kernel}`, '-append', 'console=ttyS0 panic=-1', '-display', 'none', '-serial', 'stdio', '-no-reboot'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (/Linux version/.test(r.stdout ?? '')) return { type: 'kvm', note: '' };
  return { type: 'qemu', note: ': TCG, as the cloud kernel printed nothing within 15 s under this /dev/kvm' };
}
const domain = domainType();

const tmp = useTmp();
const open = useEngines();
const ours: string[] = [];
afterAll(() => {
  for (const d of ours) {
    spawnSync('virsh', ['-c', URI, 'destroy', d], { stdio: 'ignore' });
    spawnSync('virsh', ['-c', URI, 'undefine', d], { stdio: 'ignore' });
  }
});

const VIRTIO = ['virtio/virtio_ring', 'virtio/virtio', 'virtio/virtio_pci_legacy_dev', 'virtio/virtio_pci_modern_dev', 'virtio/virtio_pci', 'block/virtio_blk'];

/** An initramfs: busybox, the virtio block modules, and an /init that prints the first sector's marker on the serial console. */
function buildInitramfs(dir: string): string {
  const root = path.join(dir, 'initramfs');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'lib'));
  fs.copyFileSync(busybox!, path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  for (const m of VIRTIO) fs.copyFileSync(`${modules}/${m}.ko`, path.join(root, 'lib', `${path.basename(m)}.ko`));
  fs.writeFileSync(
    path.join(root, 'init'),
    `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox --install -s /bin
export PATH=/bin
for m in ${VIRTIO.map((m) => path.basename(m)).join(' ')}; do insmod /lib/$m.ko; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
echo "guest: reading the marker of /dev/vda"
mark=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\\000')
echo "COFFER-HEARTBEAT $mark"
while true; do sleep 3600; done
`,
    { mode: 0o755 },
  );
  const out = path.join(dir, 'initramfs.cpio');
  execFileSync('sh', ['-c', `cd "${root}" && find . | cpio -o -H newc --quiet > "${out}"`]);
  return out;
}

describe.skipIf(!!why)(`Test restore on a real QEMU guest (${domain.type}${domain.note})${why ? ` (skipped: ${why})` : ''}`, () => {
  it('boots the point as a temporary VM until its heartbeat, fails without one with the serial lines, and leaves nothing behind', async () => {
    const dir = tmp();
    fs.chmodSync(dir, 0o755);
    const name = `coffer-rt-${randomBytes(3).toString('hex')}`;
    const marker = `marker-${randomBytes(4).toString('hex')}`;
    const disk = path.join(dir, `${name}.img`);
    const sector = Buffer.alloc(1024 * 1024);
    sector.write(marker, 0);
    fs.writeFileSync(disk, sector);
    const initrd = buildInitramfs(dir);
    const xml = path.join(dir, `${name}.xml`);
    fs.writeFileSync(
      xml,
      `<domain type='${domain.type}'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type><kernel>/boot/${kernel}</kernel><initrd>${initrd}</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline></os>
        <on_reboot>destroy</on_reboot>
        <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
        <interface type='user'><model type='e1000'/></interface>
        <serial type='pty'><target port='0'/></serial></devices>
        <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel></domain>`,
    );
    execFileSync('virsh', ['-c', URI, 'define', xml]);
    ours.push(name);

    const dataDir = path.join(dir, 'data');
    const inst = open(dataDir);
    const { engine, router } = inst;
    unwrap(await router.invoke('createVault', { name: 'vault-rt', region: 'dc1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
    unwrap(await router.invoke('addSource', { kind: 'libvirt', target: URI, region: 'dc1', name: 'local-qemu' }));
    const discovered = await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-rt' })).id);
    const listed = unwrap(await router.invoke('listVms', {}));
    const vm = listed.find((v) => v.name === name)!;
    expect(vm, `discovery: ${JSON.stringify(discovered.error ?? discovered.summary)}; listed: ${listed.map((v) => v.name).join(', ')}`).toBeDefined();
    await discoverRegisterProtect(inst, 'vault-rt', [vm.id]);
    const [backup] = unwrap(await router.invoke('backupNow', { vms: [vm.id] }));
    expect((await engine.jobs.wait(backup!.id)).status).toBe('Completed');
    const [point] = unwrap(await router.invoke('listPoints', { vm: vm.id }));

    // 1. The guest prints the marker it read from the restored disk.
    const passed = await engine.jobs.wait(unwrap(await router.invoke('testRestore', { vm: vm.id, pointId: point!.id, heartbeat: `COFFER-HEARTBEAT ${marker}`, timeoutSeconds: 900 })).id);
    expect(passed.status, JSON.stringify(passed.error)).toBe('Completed');
    expect(passed.operation).toBe('TestRestore');
    expect(passed.summary).toMatchObject({ code: 'RestoreTestPassed', params: { pointId: point!.id, viaAgent: false } });
    const details = passed.details as { domain: string; network: string; bootSeconds: number; restoreSeconds: number; serialTail: string[] };
    expect(details.domain).toMatch(new RegExp(`^coffer-test-${point!.id}-`));
    expect(details.network).toBe(details.domain);
    expect(details.serialTail.join('\n')).toContain(`COFFER-HEARTBEAT ${marker}`);
    expect(details.bootSeconds).toBeGreaterThan(0);

    // 2. A heartbeat the guest never prints: the job fails with the serial console's last lines.
    // Three times the boot just measured (on this machine, under its load) lets the guest print them.
    const timeoutSeconds = Math.max(20, Math.ceil(details.bootSeconds * 3));
    const failed = await engine.jobs.wait(unwrap(await router.invoke('testRestore', { vm: vm.id, pointId: point!.id, heartbeat: 'NEVER-PRINTED-BY-THIS-GUEST', timeoutSeconds })).id);
    expect(failed.status).toBe('Failed');
    expect(failed.error).toMatchObject({ code: 'RestoreTestNoHeartbeat' });
    expect(failed.error!.message).toContain('NEVER-PRINTED-BY-THIS-GUEST');
    expect(failed.error!.message).toContain(`COFFER-HEARTBEAT ${marker}`);

    // 3. Nothing of either test is left: no domain, no network, no disk.
    const domains = execFileSync('virsh', ['-c', URI, 'list', '--all', '--name'], { encoding: 'utf8' });
    const networks = execFileSync('virsh', ['-c', URI, 'net-list', '--all', '--name'], { encoding: 'utf8' });
    expect(domains.split('\n').filter((d) => d.startsWith(`coffer-test-${point!.id}`))).toEqual([]);
    expect(networks.split('\n').filter((n) => n.startsWith(`coffer-test-${point!.id}`))).toEqual([]);
    expect(fs.readdirSync(path.join(dataDir, 'restore-tests'))).toEqual([]);
    const images = '/var/lib/libvirt/images';
    if (fs.existsSync(images)) expect(fs.readdirSync(images).filter((f) => f.startsWith(`coffer-test-${point!.id}`))).toEqual([]);
    // The source VM is untouched.
    expect(execFileSync('virsh', ['-c', URI, 'domstate', name], { encoding: 'utf8' }).trim()).toBe('shut off');
  }, 40 * 60_000);

  it('cleans what a test cut short by a crash left (its network and disks) when Coffer starts again', async () => {
    const dir = tmp();
    const dataDir = path.join(dir, 'data');
    const root = path.join(dataDir, 'restore-tests');
    const leftover = `coffer-test-20260101T000000000Z-dead00-${randomBytes(3).toString('hex')}`;
    fs.mkdirSync(path.join(root, leftover, 'disks'), { recursive: true });
    fs.writeFileSync(path.join(root, leftover, 'disks', 'vda.img'), Buffer.alloc(4096));
    const netXml = path.join(dir, 'net.xml');
    fs.writeFileSync(netXml, `<network><name>${leftover}</name></network>`);
    execFileSync('virsh', ['-c', URI, 'net-create', '--file', netXml]);
    // The process that ran the test is gone.
    const gone = spawnSync('true').pid!;
    fs.writeFileSync(
      path.join(root, `${leftover}.json`),
      JSON.stringify({ uri: URI, domain: leftover, uuid: '6a1b2c3d-0000-4000-8000-00000000dead', network: leftover, dir: path.join(root, leftover), pid: gone }),
    );
    const { engine } = open(dataDir);
    expect(await engine.protection.restoreTestsSwept).toEqual([leftover]);
    expect(execFileSync('virsh', ['-c', URI, 'net-list', '--all', '--name'], { encoding: 'utf8' })).not.toContain(leftover);
    expect(fs.readdirSync(root)).toEqual([]);
  });
});
