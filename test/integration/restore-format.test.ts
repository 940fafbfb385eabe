// Restore into the format the admin needs (--format, through qemu-img convert), and a VirtualBox
// VM of a folder source restored as a libvirt domain made from its .vbox (defined on libvirt's
// test driver). Real images made with qemu-img, a real vault, the real virsh.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unwrap } from '../helpers/cli.js';
import { discoverRegisterProtect, useEngines, type Installed } from '../helpers/engine.js';
import { useTmp } from '../helpers/tmp.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
const noTools = !has('qemu-img') ? 'qemu-img is not installed (apt-get install qemu-utils)' : !has('virsh') ? 'virsh is not installed (apt-get install libvirt-clients)' : undefined;
if (noTools) console.warn(`restore format tests skipped: ${noTools}`);

const tmp = useTmp();
const open = useEngines();
const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

/** 4 MiB of guest bytes with a marker at the start and one at 3 MiB, as a raw image. */
function guestBytes(): Buffer {
  const b = Buffer.alloc(4 * 1024 * 1024);
  b.write('COFFER-MARKER-START', 0);
  b.write('COFFER-MARKER-3MIB', 3 * 1024 * 1024);
  return b;
}

const VBOX = (disk: string) => `<?xml version="1.0"?>
<VirtualBox xmlns="http://www.virtualbox.org/" version="1.19-linux">
  <Machine uuid="{8f2d3c4e-1a2b-4c5d-9e8f-0a1b2c3d4e5f}" name="lab-web" OSType="Ubuntu_64">
    <MediaRegistry><HardDisks><HardDisk uuid="{0f1e2d3c-4b5a-4968-8776-655443322110}" location="${disk}" format="VDI" type="Normal"/></HardDisks></MediaRegistry>
    <Hardware>
      <CPU count="2"/>
      <Memory RAMSize="768"/>
      <Firmware type="EFI"/>
      <Network><Adapter slot="0" enabled="true" MACAddress="080027A1B2C3" type="82540EM"><NAT/></Adapter></Network>
      <StorageControllers>
        <StorageController name="SATA" type="AHCI" PortCount="1">
          <AttachedDevice type="HardDisk" port="0" device="0"><Image uuid="{0f1e2d3c-4b5a-4968-8776-655443322110}"/></AttachedDevice>
        </StorageController>
      </StorageControllers>
    </Hardware>
  </Machine>
</VirtualBox>
`;

/** A folder source with one VirtualBox VM (a VDI disk holding guestBytes), protected and backed up once. */
async function backedUpVboxVm(): Promise<{ inst: Installed; dir: string; vmId: string; pointId: string; raw: string }> {
  const dir = tmp();
  const vmDir = path.join(dir, 'hypervisor', 'lab-web');
  fs.mkdirSync(vmDir, { recursive: true });
  const raw = path.join(dir, 'guest.raw');
  fs.writeFileSync(raw, guestBytes());
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vdi', raw, path.join(vmDir, 'lab-web.vdi')]);
  fs.writeFileSync(path.join(vmDir, 'lab-web.vbox'), VBOX('lab-web.vdi'));
  const inst = open(path.join(dir, 'data'));
  const { router, engine } = inst;
  unwrap(await router.invoke('createVault', { name: 'vault-lab', region: 'lab', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
  unwrap(await router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'hypervisor'), region: 'lab', name: 'lab' }));
  await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-lab' })).id);
  const vm = unwrap(await router.invoke('listVms', {})).find((v) => v.name === 'lab-web')!;
  await discoverRegisterProtect(inst, 'vault-lab', [vm.id]);
  const [job] = unwrap(await router.invoke('backupNow', { vms: [vm.id] }));
  expect((await engine.jobs.wait(job!.id)).status).toBe('Completed');
  const [point] = unwrap(await router.invoke('listPoints', { vm: vm.id }));
  return { inst, dir, vmId: vm.id, pointId: point!.id, raw };
}

const info = (file: string) => JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };
const sameGuest = (raw: string, file: string) => spawnSync('qemu-img', ['compare', '-q', '-f', 'raw', raw, file]).status === 0;

describe.skipIf(!!noTools)(`restore --format${noTools ? ` (skipped: ${noTools})` : ''}`, () => {
  it('writes the disks in each format asked for, with the same guest bytes; without --format the VDI stays a VDI', async () => {
    const { inst, dir, vmId, pointId, raw } = await backedUpVboxVm();
    for (const format of ['raw', 'qcow2', 'vmdk', 'vhdx'] as const) {
      const target = path.join(dir, `to-${format}`);
      const job = unwrap(await inst.router.invoke('restorePoint', { vm: vmId, pointId, mode: 'disks', targetDir: target, format }));
      const ended = await inst.engine.jobs.wait(job.id);
      expect(ended.status, JSON.stringify(ended.error)).toBe('Completed');
      expect(ended.summary).toMatchObject({ code: 'RestoreConverted', params: { format, disks: 1 } });
      const ext = { raw: '.img', qcow2: '.qcow2', vmdk: '.vmdk', vhdx: '.vhdx' }[format];
      expect(fs.readdirSync(target).sort()).toEqual([`lab-web${ext}`, 'lab-web.vbox'].sort());
      const file = path.join(target, `lab-web${ext}`);
      expect(info(file).format).toBe(format);
      expect(sameGuest(raw, file)).toBe(true);
    }
    const plain = path.join(dir, 'plain');
    const job = unwrap(await inst.router.invoke('restorePoint', { vm: vmId, pointId, mode: 'disks', targetDir: plain }));
    expect((await inst.engine.jobs.wait(job.id)).summary).toMatchObject({ code: 'RestoreDone' });
    expect(info(path.join(plain, 'lab-web.vdi')).format).toBe('vdi');
  });

  it('restores a VirtualBox VM as a libvirt domain from its .vbox: CPUs, memory, EFI, a qcow2 SATA disk, the network disconnected', async () => {
    const { inst, dir, vmId, pointId, raw } = await backedUpVboxVm();
    const target = path.join(dir, 'as-kvm');
    const job = unwrap(await inst.router.invoke('restorePoint', { vm: vmId, pointId, mode: 'newVm', targetDir: target, newName: 'lab-web-kvm', defineOn: 'test:///default' }));
    const ended = await inst.engine.jobs.wait(job.id);
    expect(ended.status, JSON.stringify(ended.error)).toBe('Completed');
    expect(ended.summary).toMatchObject({ code: 'RestoreConverted', params: { format: 'qcow2', definedAs: 'lab-web-kvm', definedOn: 'test:///default' } });
    expect(fs.readdirSync(target).sort()).toEqual(['lab-web-kvm.xml', 'lab-web.qcow2', 'lab-web.vbox']);
    const disk = path.join(target, 'lab-web.qcow2');
    expect(sameGuest(raw, disk)).toBe(true);
    // The .vbox kept in the folder names the converted file.
    expect(fs.readFileSync(path.join(target, 'lab-web.vbox'), 'utf8')).toContain('location="lab-web.qcow2"');

    const xml = fs.readFileSync(path.join(target, 'lab-web-kvm.xml'), 'utf8');
    // What libvirt makes of it: define on the test driver, then read back (one virsh: the test driver's state lives per connection).
    const back = execFileSync('virsh', ['-q', '-c', 'test:///default', `define --file ${path.join(target, 'lab-web-kvm.xml')} ; dumpxml --domain lab-web-kvm`], { encoding: 'utf8' });
    expect(back).toMatch(/<vcpu[^>]*>2<\/vcpu>/);
    expect(back).toMatch(/<memory unit='KiB'>786432<\/memory>/);
    expect(back).toContain(`<source file='${disk}'/>`);
    expect(back).toMatch(/<driver name='qemu' type='qcow2'\/>/);
    expect(back).toMatch(/<target dev='sda' bus='sata'\/>/);
    expect(back).toMatch(/<link state='down'\/>/);
    expect(xml).toContain("<os firmware='efi'>");
    expect(xml).not.toContain('080027A1B2C3'.toLowerCase());
  });

  it('fails with QemuImgMissing, naming qemu-utils, when qemu-img is not installed', async () => {
    const { inst, dir, vmId, pointId } = await backedUpVboxVm();
    process.env.PATH = path.join(dir, 'no-tools-here');
    const job = unwrap(await inst.router.invoke('restorePoint', { vm: vmId, pointId, mode: 'disks', targetDir: path.join(dir, 'out'), format: 'qcow2' }));
    const ended = await inst.engine.jobs.wait(job.id);
    expect(ended.status).toBe('Failed');
    expect(ended.error).toMatchObject({ code: 'QemuImgMissing' });
    expect(ended.error!.message).toContain('qemu-utils');
  });

  it('refuses a format it does not know before any job starts', async () => {
    const { inst, dir, vmId, pointId } = await backedUpVboxVm();
    const r = await inst.router.invoke('restorePoint', { vm: vmId, pointId, mode: 'disks', targetDir: path.join(dir, 'out'), format: 'qed' as 'raw' });
    expect(r).toMatchObject({ ok: false, error: { code: 'InvalidArgument' } });
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
  });
});
