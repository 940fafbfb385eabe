import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { withConsistentSnapshot } from '../../../main/core/sources/libvirt-snapshot.js';
import { domblklist, domainState, virsh } from '../../../main/core/sources/libvirt.js';
import { KVM_URI, QEMU_DOMAIN_TYPE, whyNoQemu } from '../../helpers/kvm.js';

/*
 * A live backup of a running QEMU domain (KVM, or TCG without /dev/kvm) through qemu:///system. The guest has no OS: the firmware
 * finds nothing to boot, but the domain runs, and the test makes its virtio disk write through
 * QEMU's own I/O path (HMP qemu-io on the guest device) while the backup reads the frozen base.
 */
const URI = KVM_URI;

const noKvm = whyNoQemu(['virsh', 'libvirtd', 'virtlogd', 'qemu-system-x86_64', 'qemu-io']);
if (noKvm) console.warn(`live KVM snapshot tests skipped: ${noKvm}`);
const skipped = noKvm ? ` (skipped: ${noKvm})` : '';

let dir: string;
const started: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'coffer-kvm-'));
});
afterEach(() => {
  for (const name of started.splice(0)) spawnSync('virsh', ['-c', URI, 'destroy', name], { stdio: 'ignore' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a transient domain with one qcow2 disk; `agent` adds a guest agent channel nobody answers on. */
async function startDomain(agent: boolean): Promise<{ name: string; disk: string }> {
  const name = `coffer-test-${randomBytes(4).toString('hex')}`;
  const disk = path.join(dir, `${name}.qcow2`);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
  const xml = path.join(dir, `${name}.xml`);
  writeFileSync(
    xml,
    `<domain type='${QEMU_DOMAIN_TYPE}'>
      <name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
      <devices>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
        ${agent ? "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" : ''}
      </devices>
      <!-- QEMU runs as root for this domain: the temp folder is private to root. -->
      <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
    </domain>`,
  );
  await virsh(URI, ['create', xml]);
  started.push(name);
  // Coffer addresses libvirt domains by UUID only (see libvirt.ts).
  return { name: (await virsh(URI, ['domuuid', name])).trim(), disk };
}

/** Writes a pattern through the guest's virtio disk, as a guest would. */
const guestWrite = (domain: string, byte: string) =>
  virsh(URI, ['qemu-monitor-command', '--domain', domain, '--hmp', `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P ${byte} 0 65536"`]);

/** True when the first 64 KiB of a qcow2 image hold `byte` (-U: the running VM holds the image lock). */
const holds = (image: string, byte: string) => {
  const r = spawnSync('qemu-io', ['-U', '-r', '-f', 'qcow2', '-c', `read -P ${byte} 0 65536`, image], { encoding: 'utf8' });
  return r.status === 0 && !r.stdout.includes('Pattern verification failed');
};

const overlaysLeft = () => readdirSync(dir).filter((f) => f.includes('.coffer-') && f.endsWith('.overlay.qcow2'));

describe('live backup of a running KVM domain (qemu:///system)', () => {
  it.skipIf(!!noKvm)(`reads the frozen base while the VM writes, then commits and pivots back; no agent answering → crash + GuestAgentUnavailable${skipped}`, async () => {
    const { name, disk } = await startDomain(true);
    const copy = path.join(dir, 'backup-copy.qcow2');
    const r = await withConsistentSnapshot(URI, name, async (frozen) => {
      expect(frozen).toEqual([{ name: 'vda', path: disk }]);
      // While the backup reads, the VM runs on an overlay and its writes go there, not into the base.
      const [active] = await domblklist(URI, name);
      expect(active!.source).not.toBe(disk);
      expect(existsSync(active!.source)).toBe(true);
      await guestWrite(name, '0xab');
      copyFileSync(frozen[0]!.path, copy);
      expect(await domainState(URI, name)).toBe('running');
      return 'copied';
    });
    expect(r.value).toBe('copied');
    expect(r.consistency).toBe('crash');
    expect(r.warnings.map((w) => w.code)).toEqual(['GuestAgentUnavailable']);
    expect(await domainState(URI, name)).toBe('running');
    expect((await domblklist(URI, name)).map((d) => [d.target, d.source])).toEqual([['vda', disk]]);
    expect(overlaysLeft()).toEqual([]);
    // The copy is the point in time of the snapshot; the write made during the backup was committed into the base.
    expect(holds(copy, '0')).toBe(true);
    expect(holds(copy, '0xab')).toBe(false);
    expect(holds(disk, '0xab')).toBe(true);
  });

  it.skipIf(!!noKvm)(`when the backup function throws, still commits, pivots back and removes the overlay${skipped}`, async () => {
    const { name, disk } = await startDomain(false);
    let overlay = '';
    await expect(
      withConsistentSnapshot(URI, name, async () => {
        overlay = (await domblklist(URI, name))[0]!.source;
        await guestWrite(name, '0xcd');
        throw new Error('vault full (simulated by the test)');
      }),
    ).rejects.toThrow('vault full (simulated by the test)');
    expect(overlay).toMatch(/\.coffer-[0-9a-z]+\.overlay\.qcow2$/);
    expect(existsSync(overlay)).toBe(false);
    expect(await domainState(URI, name)).toBe('running');
    expect((await domblklist(URI, name)).map((d) => [d.target, d.source])).toEqual([['vda', disk]]);
    expect(overlaysLeft()).toEqual([]);
    expect(holds(disk, '0xcd')).toBe(true);
  });

  it.skipIf(!!noKvm)(`without a guest agent channel the snapshot is crash-consistent with GuestAgentUnavailable${skipped}`, async () => {
    const { name } = await startDomain(false);
    const r = await withConsistentSnapshot(URI, name, async (frozen) => frozen.length);
    expect(r).toMatchObject({ value: 1, consistency: 'crash' });
    expect(r.warnings).toEqual([
      { code: 'GuestAgentUnavailable', message: expect.stringMatching(/guest agent channel is absent/), subject: name, detail: expect.stringMatching(/guest agent channel is absent/) },
    ]);
  });

  it.skipIf(!!noKvm)(`commits an overlay left behind by an interrupted earlier backup before taking a new one${skipped}`, async () => {
    const { name, disk } = await startDomain(false);
    const stale = path.join(dir, `${path.basename(disk)}.coffer-stale1.overlay.qcow2`);
    await virsh(URI, ['snapshot-create-as', '--domain', name, '--disk-only', '--atomic', '--no-metadata', '--diskspec', `vda,file=${stale}`]);
    const r = await withConsistentSnapshot(URI, name, async (frozen) => frozen[0]!.path);
    expect(r.value).toBe(disk);
    expect(r.warnings.map((w) => w.code)).toEqual(['Interrupted', 'GuestAgentUnavailable']);
    expect(existsSync(stale)).toBe(false);
    expect((await domblklist(URI, name))[0]!.source).toBe(disk);
  });
});
