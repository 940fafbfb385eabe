import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderProvider, scanFolder } from '../../../main/core/sources/folder.js';
import type { DiscoveredVm } from '../../../main/core/sources/types.js';

// A source tree built with the real qemu-img; every image below is a real file in its real format.
let root: string;
let vms: DiscoveredVm[];
const fixtures = path.join(import.meta.dirname, '..', '..', 'unit', 'sources', 'fixtures');
const img = (...args: string[]) => execFileSync('qemu-img', ['create', '-q', ...args]);
const byName = (name: string, cloudService?: string) => {
  const hits = vms.filter((v) => v.name === name && (cloudService === undefined || v.cloudService === cloudService));
  expect(hits, `VM ${name} in ${cloudService ?? 'any cloud service'}`).toHaveLength(1);
  return hits[0]!;
};

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'coffer-folder-'));
  const dir = (...p: string[]) => {
    const d = path.join(root, ...p);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const domainXml = (name: string, uuid: string, disks: string[]) =>
    `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid><memory>65536</memory><os><type>hvm</type></os><devices>${disks
      .map((d, i) => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${d}'/><target dev='vd${'abc'[i]}' bus='virtio'/></disk>`)
      .join('')}<disk type='file' device='cdrom'><source file='/iso/none.iso'/><target dev='sda'/><readonly/></disk></devices></domain>`;

  // siteA/web: libvirt XML; qcow2 overlay on a base in another folder (relative backing path).
  const base = dir('base');
  img('-f', 'qcow2', path.join(base, 'debian12.qcow2'), '4M');
  const a = dir('siteA');
  img('-f', 'qcow2', '-b', '../base/debian12.qcow2', '-F', 'qcow2', path.join(a, 'web.qcow2'));
  img('-f', 'raw', path.join(a, 'web-data.img'), '1M');
  writeFileSync(path.join(a, 'web.xml'), domainXml('web', 'aaaaaaaa-0000-4000-8000-000000000001', ['web.qcow2', `${a}/web-data.img`, 'web-gone.qcow2']));
  // siteB/web: the same name in another folder = another cloud service.
  const b = dir('siteB');
  img('-f', 'qcow2', path.join(b, 'web.qcow2'), '1M');
  writeFileSync(path.join(b, 'web.xml'), domainXml('web', 'aaaaaaaa-0000-4000-8000-000000000002', ['web.qcow2']));
  writeFileSync(path.join(b, 'default-network.xml'), "<network><name>default</name></network>");

  // vbox/ubuntu-lab: the recorded .vbox with a real base VDI and a real (qcow2-created) VDI as its differencing child.
  const v = dir('vbox', 'ubuntu-lab');
  copyFileSync(path.join(fixtures, 'ubuntu-lab.vbox'), path.join(v, 'ubuntu-lab.vbox'));
  img('-f', 'vdi', path.join(v, 'ubuntu-lab.vdi'), '1M');
  dir('vbox', 'ubuntu-lab', 'Snapshots');
  img('-f', 'vdi', path.join(v, 'Snapshots', '{3c1b7d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e}.vdi'), '1M');

  // vmware/db01: a .vmx with a monolithicFlat descriptor (+ flat extent) and a sparse vmdk; a lock folder = running.
  const w = dir('vmware', 'db01');
  img('-f', 'vmdk', '-o', 'subformat=monolithicFlat', path.join(w, 'db01.vmdk'), '1M');
  img('-f', 'vmdk', path.join(w, 'db01-logs.vmdk'), '1M');
  writeFileSync(
    path.join(w, 'db01.vmx'),
    [
      '.encoding = "UTF-8"',
      'displayName = "db01"',
      'uuid.bios = "56 4d aa bb cc dd ee ff-00 11 22 33 44 55 66 77"',
      'scsi0.present = "TRUE"',
      'scsi0:0.fileName = "db01.vmdk"',
      'scsi0:0.present = "TRUE"',
      'sata0:0.fileName = "db01-logs.vmdk"',
      'sata0:0.present = "TRUE"',
      'ide1:0.deviceType = "cdrom-image"',
      'ide1:0.fileName = "/iso/x.iso"',
      '',
    ].join('\n'),
  );
  dir('vmware', 'db01', 'db01.vmx.lck');

  // ovf/web-export: the recorded OVF; its nvram file is missing on purpose.
  const o = dir('ovf');
  copyFileSync(path.join(fixtures, 'web-export.ovf'), path.join(o, 'web-export.ovf'));
  img('-f', 'vmdk', '-o', 'subformat=streamOptimized', path.join(o, 'web-export-disk1.vmdk'), '1M');

  // images/legacy-app: a bare image folder with every other format; the overlay hides its base.
  const i = dir('images', 'legacy-app');
  img('-f', 'vhdx', path.join(i, 'system.vhdx'), '1M');
  img('-f', 'vpc', path.join(i, 'old.vhd'), '1M');
  img('-f', 'raw', path.join(i, 'swap.raw'), '1M');
  img('-f', 'qcow2', path.join(i, 'gold.qcow2'), '1M');
  img('-f', 'qcow2', '-b', 'gold.qcow2', '-F', 'qcow2', path.join(i, 'current.qcow2'));

  // Noise the scanner must survive: a hidden folder, a symlink loop, a non-VM file.
  const h = dir('.trash');
  img('-f', 'raw', path.join(h, 'deleted.img'), '1M');
  symlinkSync(root, path.join(root, 'siteA', 'loop'));
  writeFileSync(path.join(root, 'README.txt'), 'not a VM');

  vms = await scanFolder(root);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('folder scan over real images', () => {
  it('finds exactly the VMs of the tree, once each, ignoring the hidden folder and the symlink loop', () => {
    expect(vms.map((v) => `${v.kind}:${v.cloudService}/${v.name}`).sort()).toEqual([
      'images:images/legacy-app',
      'libvirt:siteA/web',
      'libvirt:siteB/web',
      'ovf:ovf/web-export',
      'virtualbox:vbox/ubuntu-lab',
      'vmware:vmware/db01',
    ]);
  });

  it('tells two VMs named web apart by cloud service and UUID', () => {
    const a = byName('web', 'siteA');
    const b = byName('web', 'siteB');
    expect(a.stableId).toBe('aaaaaaaa-0000-4000-8000-000000000001');
    expect(b.stableId).toBe('aaaaaaaa-0000-4000-8000-000000000002');
    expect(a.definitionPath).toBe(path.join(root, 'siteA', 'web.xml'));
  });

  it('resolves a qcow2 backing chain through the header, relative to the overlay, and reports a missing disk', () => {
    const a = byName('web', 'siteA');
    expect(a.disks.map((d) => [d.name, path.relative(root, d.path), d.format, d.role, d.exists])).toEqual([
      ['vda', 'siteA/web.qcow2', 'qcow2', 'disk', true],
      ['debian12.qcow2', 'base/debian12.qcow2', 'qcow2', 'backing', true],
      ['vdb', 'siteA/web-data.img', 'raw', 'disk', true],
      ['vdc', 'siteA/web-gone.qcow2', 'qcow2', 'disk', false],
    ]);
    expect(a.disks[2]!.sizeBytes).toBe(1024 * 1024);
    expect(a.problems).toEqual([`disk vdc is missing: ${path.join(root, 'siteA', 'web-gone.qcow2')}`]);
  });

  it('a folder whose only image is another VM\'s backing file is not a VM of its own', () => {
    // base/debian12.qcow2 is claimed by siteA/web's chain: listing it again would back it up twice.
    expect(vms.find((v) => v.name === 'base')).toBeUndefined();
  });

  it('lists a VirtualBox differencing disk as the disk and its parent as backing', () => {
    const vm = byName('ubuntu-lab');
    expect(vm.stableId).toBe('8f2d3c4e-1a2b-4c5d-9e8f-0a1b2c3d4e5f');
    expect(vm.disks.map((d) => [path.relative(path.join(root, 'vbox', 'ubuntu-lab'), d.path), d.format, d.role, d.exists])).toEqual([
      ['Snapshots/{3c1b7d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e}.vdi', 'vdi', 'disk', true],
      ['ubuntu-lab.vdi', 'vdi', 'backing', true],
    ]);
    expect(vm.problems).toEqual([]);
  });

  it('lists a VMDK descriptor with its flat extent, a sparse VMDK, no CD-ROM, and sees the lock folder', () => {
    const vm = byName('db01');
    expect(vm.stableId).toBe('564daabb-ccdd-eeff-0011-223344556677');
    expect(vm.powerState).toBe('running');
    expect(vm.disks.map((d) => [d.name, path.basename(d.path), d.format, d.extentOf ? path.basename(d.extentOf) : undefined])).toEqual([
      ['sata0:0', 'db01-logs.vmdk', 'vmdk', undefined],
      ['scsi0:0', 'db01.vmdk', 'vmdk', undefined],
      ['db01-flat.vmdk', 'db01-flat.vmdk', 'raw', 'db01.vmdk'],
    ]);
    expect(vm.disks.every((d) => d.exists)).toBe(true);
  });

  it('identifies an OVF by its path and reports the missing referenced file', () => {
    const vm = byName('web-export');
    expect(vm.stableId).toBe('ovf/web-export.ovf');
    expect(vm.disks.map((d) => [d.name, d.format, d.exists])).toEqual([
      ['web-export-disk1.vmdk', 'vmdk', true],
      ['web-export-file1.nvram', 'unknown', false],
    ]);
    expect(vm.problems).toHaveLength(1);
    expect(vm.problems[0]).toMatch(/web-export-file1\.nvram is missing/);
  });

  it('makes a bare image folder one VM named after the folder, formats by magic, overlay hiding its base', () => {
    const vm = byName('legacy-app');
    expect(vm.stableId).toBe('images/legacy-app');
    expect(vm.disks.map((d) => [d.name, d.format, d.role])).toEqual([
      ['current.qcow2', 'qcow2', 'disk'],
      ['gold.qcow2', 'qcow2', 'backing'],
      ['old.vhd', 'vhd', 'disk'],
      ['swap.raw', 'raw', 'disk'],
      ['system.vhdx', 'vhdx', 'disk'],
    ]);
  });

  it('gives the same answer on a second scan (stable ids and order)', async () => {
    const again = await scanFolder(root);
    expect(again.map((v) => v.stableId)).toEqual(vms.map((v) => v.stableId));
  });

  it('a copied VM folder (same UUID twice) keeps both, the copy identified by its path', async () => {
    const copy = path.join(root, 'siteC');
    mkdirSync(copy);
    copyFileSync(path.join(root, 'siteB', 'web.xml'), path.join(copy, 'web.xml'));
    try {
      const found = (await scanFolder(root)).filter((v) => v.stableId.startsWith('aaaaaaaa-0000-4000-8000-000000000002'));
      expect(found.map((v) => v.stableId)).toEqual(['aaaaaaaa-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000002@siteC/web.xml']);
      expect(found[1]!.problems.join()).toMatch(/same id/);
    } finally {
      rmSync(copy, { recursive: true });
    }
  });

  it('uses the root folder name as cloud service for a VM at the root', async () => {
    const solo = mkdtempSync(path.join(tmpdir(), 'coffer-solo-'));
    try {
      img('-f', 'raw', path.join(solo, 'disk.img'), '1M');
      const [vm] = await scanFolder(solo);
      expect(vm).toMatchObject({ name: path.basename(solo), cloudService: path.basename(solo), stableId: '.', kind: 'images' });
    } finally {
      rmSync(solo, { recursive: true });
    }
  });

  it('status says whether the folder is there', async () => {
    expect((await new FolderProvider(root).status()).state).toBe('reachable');
    const gone = await new FolderProvider(path.join(root, 'nope')).status();
    expect(gone).toEqual({ state: 'unreachable', message: `folder ${path.join(root, 'nope')} does not exist` });
  });
});
