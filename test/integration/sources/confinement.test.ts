import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCatalog } from '../../../main/core/catalog/catalog.js';
import { diskPathChanges, refusedDiskError } from '../../../main/core/sources/confinement.js';
import { scanFolder } from '../../../main/core/sources/folder.js';
import type { DiscoveredVm } from '../../../main/core/sources/types.js';
import { cofferIn, unwrap } from '../../helpers/cli.js';
import { useEngines } from '../../helpers/engine.js';
import { useTmp } from '../../helpers/tmp.js';

// A definition in a scanned folder names a disk outside the folder: Coffer lists it as refused and
// never reads it, unless the admin allowed that folder (or block devices) for the source.
const tmp = useTmp();
const open = useEngines();
const SECRET = '/etc/hostname';

const libvirtXml = (name: string, disk: string) =>
  `<domain type='kvm'><name>${name}</name><uuid>6d1a2b3c-0000-4000-8000-00000000000${name.length}</uuid><devices>
     <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda'/></disk></devices></domain>`;
const vmx = (disk: string) => `displayName = "web"\nuuid.bios = "56 4d 9c 2e 3b 7a 1f 0d-8a 4c 2b 1e 5f 6a 7b 8c"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "${disk}"\n`;
const vbox = (disk: string) => `<?xml version="1.0"?><VirtualBox xmlns="http://www.virtualbox.org/" version="1.19-linux">
  <Machine uuid="{8f2d3c4e-1a2b-4c5d-9e8f-0a1b2c3d4e5f}" name="lab"><MediaRegistry><HardDisks>
    <HardDisk uuid="{0f1e2d3c-4b5a-4968-8776-655443322110}" location="${disk}" format="VDI" type="Normal"/>
  </HardDisks></MediaRegistry><Hardware><StorageControllers><StorageController name="SATA" type="AHCI">
    <AttachedDevice type="HardDisk" port="0" device="0"><Image uuid="{0f1e2d3c-4b5a-4968-8776-655443322110}"/></AttachedDevice>
  </StorageController></StorageControllers></Hardware></Machine></VirtualBox>`;

function only(vms: DiscoveredVm[]): DiscoveredVm {
  expect(vms).toHaveLength(1);
  return vms[0]!;
}

describe('disks a folder source may back up', () => {
  it.each([
    ['libvirt XML', 'web.xml', libvirtXml('web', SECRET), 'vda'],
    ['.vmx', 'web.vmx', vmx(SECRET), 'scsi0:0'],
    ['.vbox', 'lab.vbox', vbox(SECRET), 'hostname'],
  ])('a %s naming /etc/hostname: the disk is refused with the reason in the VM problems', async (_kind, file, text, diskName) => {
    const root = tmp();
    writeFileSync(path.join(root, file), text);
    const vm = only(await scanFolder(root));
    expect(vm.disks.map((d) => [d.name, d.path, d.refused?.code])).toEqual([[diskName, SECRET, 'DiskOutsideSource']]);
    expect(vm.problems).toContain(`disk ${diskName} is not backed up: ${SECRET} is outside the source folder and its allowed roots`);
    const err = refusedDiskError('lab/web', vm.disks);
    expect([err?.code, err?.remedy]).toEqual(['DiskOutsideSource', expect.stringMatching(/allowed roots/)]);
  });

  it('a symlink in the folder that leads outside is refused by where it leads', async () => {
    const root = tmp();
    symlinkSync(SECRET, path.join(root, 'disk.img'));
    writeFileSync(path.join(root, 'web.xml'), libvirtXml('web', 'disk.img'));
    const vm = only(await scanFolder(root));
    expect(vm.disks[0]!.refused?.code).toBe('DiskOutsideSource');
    expect(vm.problems).toEqual([`disk vda is not backed up: ${path.join(root, 'disk.img')} (resolves to ${SECRET}) is outside the source folder and its allowed roots`]);
  });

  it('a bare image that is a symlink out of the folder is refused too', async () => {
    const root = tmp();
    mkdirSync(path.join(root, 'vm1'));
    symlinkSync(SECRET, path.join(root, 'vm1', 'root.img'));
    const vm = only(await scanFolder(root));
    expect(vm.disks.map((d) => d.refused?.code)).toEqual(['DiskOutsideSource']);
  });

  it('a qcow2 whose backing file lies outside: the backing file is refused, the overlay is listed', async () => {
    const root = tmp();
    const elsewhere = tmp();
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', path.join(elsewhere, 'base.img'), '1M']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', path.join(elsewhere, 'base.img'), '-F', 'raw', path.join(root, 'top.qcow2')]);
    writeFileSync(path.join(root, 'web.xml'), libvirtXml('web', 'top.qcow2'));
    const vm = only(await scanFolder(root));
    expect(vm.disks.map((d) => [path.basename(d.path), d.role, d.refused?.code])).toEqual([
      ['top.qcow2', 'disk', undefined],
      ['base.img', 'backing', 'DiskOutsideSource'],
    ]);
    // Allowed for this source: the whole chain is read.
    const allowed = only(await scanFolder(root, { allowedRoots: [elsewhere] }));
    expect(allowed.disks.map((d) => [path.basename(d.path), d.format, d.refused])).toEqual([
      ['top.qcow2', 'qcow2', undefined],
      ['base.img', 'raw', undefined],
    ]);
    expect(allowed.problems).toEqual([]);
  });

  it('a disk in a root the admin allowed for the source is accepted', async () => {
    const root = tmp();
    const images = tmp();
    writeFileSync(path.join(images, 'web.img'), Buffer.alloc(4096));
    writeFileSync(path.join(root, 'web.vmx'), vmx(path.join(images, 'web.img')));
    expect(only(await scanFolder(root)).disks[0]!.refused?.code).toBe('DiskOutsideSource');
    const vm = only(await scanFolder(root, { allowedRoots: [images] }));
    expect(vm.disks.map((d) => [d.path, d.sizeBytes, d.refused])).toEqual([[path.join(images, 'web.img'), 4096, undefined]]);
    expect(vm.problems).toEqual([]);
    expect(refusedDiskError('web', vm.disks)).toBeUndefined();
  });

  const blockDevice = ['/dev/loop0', '/dev/sda', '/dev/vda', '/dev/nvme0n1'].find((p) => existsSync(p));
  it.skipIf(!blockDevice)(`a block device (${blockDevice ?? 'none on this machine'}) is refused unless the source enables block devices`, async () => {
    const root = tmp();
    writeFileSync(path.join(root, 'web.xml'), libvirtXml('web', blockDevice!));
    const vm = only(await scanFolder(root, { allowedRoots: ['/dev'] }));
    expect(vm.disks.map((d) => d.refused?.code)).toEqual(['BlockDeviceNotAllowed']);
    expect(vm.problems).toEqual([`disk vda is not backed up: ${blockDevice} is a block device; block devices are not enabled for this source`]);
    expect(refusedDiskError('web', vm.disks)?.code).toBe('BlockDeviceNotAllowed');
    const enabled = only(await scanFolder(root, { allowedRoots: ['/dev'], allowBlockDevices: true }));
    expect(enabled.disks.map((d) => [d.path, d.format, d.refused])).toEqual([[blockDevice, 'raw', undefined]]);
    // Enabled, but not under an allowed root: still outside the source.
    expect(only(await scanFolder(root, { allowBlockDevices: true })).disks.map((d) => d.refused?.code)).toEqual(['DiskOutsideSource']);
  });
});

describe('disk path changes between scans', () => {
  it('lists what was added and removed; the same paths in another order are no change', () => {
    expect(diskPathChanges(['/vm/a.img', '/vm/b.img'], [{ path: '/vm/b.img' }, { path: '/vm/a.img' }])).toEqual({ added: [], removed: [], changed: false });
    expect(diskPathChanges(['/vm/a.img', '/vm/b.img'], ['/vm/a.img', '/etc/shadow'])).toEqual({ added: ['/etc/shadow'], removed: ['/vm/b.img'], changed: true });
  });
});

describe('allowed roots are a setting of the source', () => {
  it('addSource and editSource store them; the next discovery accepts the disk', async () => {
    const root = tmp();
    const images = tmp();
    writeFileSync(path.join(images, 'web.img'), Buffer.alloc(4096));
    writeFileSync(path.join(root, 'web.xml'), libvirtXml('web', path.join(images, 'web.img')));
    const dataDir = path.join(tmp(), 'data');
    const { engine, router } = open(dataDir);
    const added = unwrap(await router.invoke('addSource', { kind: 'folder', target: root, region: 'lab', name: 'lab' }));
    expect([added.allowedRoots, added.allowBlockDevices]).toEqual([[], false]);
    unwrap(await router.invoke('createVault', { name: 'lab-vault', region: 'lab', path: path.join(tmp(), 'v'), passphrase: 'correct horse battery' }));
    const discover = async () => {
      await engine.jobs.wait((unwrap(await router.invoke('discoverVms', { vault: 'lab-vault' }))).id);
      return (unwrap(await router.invoke('listVms', {}))).find((v) => v.name === 'web')!;
    };
    const before = await discover();
    expect(before.disks.map((d) => d.refused?.code)).toEqual(['DiskOutsideSource']);
    expect(before.problems.join('\n')).toMatch(/outside the source folder/);
    const edited = unwrap(await router.invoke('editSource', { name: 'lab', allowedRoots: [images] }));
    expect(edited.allowedRoots).toEqual([images]);
    const after = await discover();
    expect([after.disks.map((d) => d.refused), after.problems]).toEqual([[undefined], []]);

    // The definition now names another disk: the catalog still holds the paths first seen, so the
    // change is visible to the backup gate as diskPathChanges(approved, current).
    writeFileSync(path.join(images, 'other.img'), Buffer.alloc(4096));
    writeFileSync(path.join(root, 'web.xml'), libvirtXml('web', path.join(images, 'other.img')));
    const moved = await discover();
    const db = openCatalog(dataDir);
    try {
      const row = db.prepare('SELECT approved_disk_paths FROM vms WHERE id = ?').get(moved.id) as { approved_disk_paths: string };
      expect(diskPathChanges(JSON.parse(row.approved_disk_paths) as string[], moved.disks)).toEqual({
        added: [path.join(images, 'other.img')],
        removed: [path.join(images, 'web.img')],
        changed: true,
      });
    } finally {
      db.close();
    }
  });
});

describe('confinement from the CLI', () => {
  const tmp = useTmp();
  it('sets a folder source’s allowed roots and block devices on add and edit', () => {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'src'));
    fs.mkdirSync(path.join(dir, 'other'));
    const coffer = cofferIn(path.join(dir, 'data'));
    const source = (r: { code: number | null; out: string; err: string }) => {
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out) as { allowedRoots: string[]; allowBlockDevices: boolean };
    };
    expect(source(coffer('source', 'add', 'folder', path.join(dir, 'src'), '--region', 'lab', '--name', 's1', '--allow-root', path.join(dir, 'other'), '--json'))).toMatchObject({
      allowedRoots: [path.join(dir, 'other')],
      allowBlockDevices: false,
    });
    expect(source(coffer('source', 'edit', 's1', '--allow-block-devices', '--json'))).toMatchObject({ allowedRoots: [path.join(dir, 'other')], allowBlockDevices: true });
    expect(source(coffer('source', 'edit', 's1', '--no-allow-roots', '--allow-block-devices', 'no', '--json'))).toMatchObject({ allowedRoots: [], allowBlockDevices: false });
    // A root the contract refuses (over 4096 characters) is InvalidArgument (exit 2), and nothing changes.
    expect(coffer('source', 'edit', 's1', '--allow-root', `/${'x'.repeat(5000)}`).code).toBe(2);
    expect(source(coffer('source', 'show', 's1', '--json'))).toMatchObject({ allowedRoots: [], allowBlockDevices: false });
  });
});
