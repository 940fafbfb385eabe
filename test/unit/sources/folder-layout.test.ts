import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanFolder } from '../../../main/core/sources/folder.js';
import { useTmp } from '../../helpers/tmp.js';

// The cloud-service rule of a folder source, on real trees: real definition files beside real
// images made by qemu-img, scanned as an admin's folder would be.
const tmp = useTmp();
const img = (file: string, format = 'raw') => {
  mkdirSync(path.dirname(file), { recursive: true });
  execFileSync('qemu-img', ['create', '-q', '-f', format, file, '1M']);
};
const write = (file: string, text: string) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
};
let uuidSeq = 0;
const uuid = () => `aaaaaaaa-0000-4000-8000-${String(++uuidSeq).padStart(12, '0')}`;

/** A VirtualBox machine folder as VirtualBox makes it: NAME.vbox, NAME.vdi, Logs/. */
function virtualbox(dir: string, name: string): void {
  const id = uuid();
  img(path.join(dir, `${name}.vdi`), 'vdi');
  write(path.join(dir, 'Logs', 'VBox.log'), 'log\n');
  write(
    path.join(dir, `${name}.vbox`),
    `<?xml version="1.0"?><VirtualBox xmlns="http://www.virtualbox.org/" version="1.19-linux"><Machine uuid="{${id}}" name="${name}" OSType="Ubuntu_64">` +
      `<MediaRegistry><HardDisks><HardDisk uuid="{${uuid()}}" location="${name}.vdi" format="VDI" type="Normal"/></HardDisks></MediaRegistry>` +
      `<Hardware/></Machine></VirtualBox>`,
  );
}

/** A VMware Workstation folder: NAME.vmx, NAME.vmdk, NAME.nvram and (running) NAME.vmx.lck/. */
function vmware(dir: string, name: string): void {
  img(path.join(dir, `${name}.vmdk`), 'vmdk');
  write(path.join(dir, `${name}.nvram`), 'nvram');
  mkdirSync(path.join(dir, `${name}.vmx.lck`), { recursive: true });
  const hex = uuid().replace(/-/g, '');
  write(path.join(dir, `${name}.vmx`), [`displayName = "${name}"`, `uuid.bios = "${hex}"`, 'scsi0:0.present = "TRUE"', `scsi0:0.fileName = "${name}.vmdk"`, ''].join('\n'));
}

/** A libvirt domain XML beside its qcow2 (disk paths relative to the XML). */
function libvirt(dir: string, name: string, disks = [`${name}.qcow2`]): void {
  for (const d of disks) if (!d.includes('/')) img(path.join(dir, d), 'qcow2');
  write(
    path.join(dir, `${name}.xml`),
    `<domain type='kvm'><name>${name}</name><uuid>${uuid()}</uuid><devices>${disks
      .map((d, i) => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${d}'/><target dev='vd${'abcd'[i]}'/></disk>`)
      .join('')}</devices></domain>`,
  );
}

const labels = async (root: string) => (await scanFolder(root)).map((v) => `${v.kind}:${v.cloudService}/${v.name}`).sort();

describe('folder source: the cloud service of a VM', () => {
  it('one folder per VM (VirtualBox, VMware, libvirt): the folder above is the cloud service, so lab/web01 names web01', async () => {
    const root = tmp();
    virtualbox(path.join(root, 'lab', 'web01'), 'web01');
    vmware(path.join(root, 'lab', 'db01'), 'db01');
    libvirt(path.join(root, 'shop', 'web01'), 'web01');
    img(path.join(root, 'shop', 'cache', 'disk.img'));
    expect(await labels(root)).toEqual(['images:shop/cache', 'libvirt:shop/web01', 'virtualbox:lab/web01', 'vmware:lab/db01']);
  });

  it('a folder that holds several VMs stays their cloud service', async () => {
    const root = tmp();
    libvirt(path.join(root, 'lab'), 'web01');
    libvirt(path.join(root, 'lab'), 'db01');
    expect(await labels(root)).toEqual(['libvirt:lab/db01', 'libvirt:lab/web01']);
  });

  it('nested: a VM beside another VM\'s folder shares the cloud service with it; a folder holding a second VM below is not one VM\'s own', async () => {
    const root = tmp();
    libvirt(path.join(root, 'lab'), 'db01');
    vmware(path.join(root, 'lab', 'web01'), 'web01');
    vmware(path.join(root, 'lab', 'app', 'app01'), 'app01');
    vmware(path.join(root, 'lab', 'app', 'app01', 'app01-clone'), 'app01-clone');
    expect(await labels(root)).toEqual(['libvirt:lab/db01', 'vmware:lab/app/app01/app01', 'vmware:lab/app/app01/app01-clone', 'vmware:lab/web01']);
  });

  it("a folder holding another VM's disk is not one VM's own", async () => {
    const root = tmp();
    img(path.join(root, 'x', 'b', 'shared.img'));
    libvirt(path.join(root, 'x', 'a'), 'a', ['../b/shared.img']);
    libvirt(path.join(root, 'x', 'b'), 'b');
    expect(await labels(root)).toEqual(['libvirt:x/a', 'libvirt:x/b/b']);
  });

  it('a folder not named after its one VM is a group: shop/web01.xml stays shop/web01, siteA/web and siteB/web stay apart', async () => {
    const root = tmp();
    libvirt(path.join(root, 'shop'), 'web01');
    libvirt(path.join(root, 'sites', 'siteA'), 'web');
    libvirt(path.join(root, 'sites', 'siteB'), 'web');
    expect(await labels(root)).toEqual(['libvirt:shop/web01', 'libvirt:sites/siteA/web', 'libvirt:sites/siteB/web']);
  });

  it('keeps the own folder when the folder above would hold two VMs of the same name', async () => {
    const root = tmp();
    libvirt(path.join(root, 'lab'), 'web01');
    libvirt(path.join(root, 'lab'), 'db01');
    libvirt(path.join(root, 'lab', 'web01'), 'web01');
    // VMware names the folder after the .vmx; a display name may say otherwise: both keep their folders.
    vmware(path.join(root, 'shop', 'app01'), 'app01');
    vmware(path.join(root, 'shop', 'app01-old'), 'app01-old');
    const old = path.join(root, 'shop', 'app01-old', 'app01-old.vmx');
    writeFileSync(old, readFileSync(old, 'utf8').replace('displayName = "app01-old"', 'displayName = "app01"'));
    expect(await labels(root)).toEqual(['libvirt:lab/db01', 'libvirt:lab/web01', 'libvirt:lab/web01/web01', 'vmware:shop/app01-old/app01', 'vmware:shop/app01/app01']);
  });

  it("uses nothing above the source's folder: a source that is one VM's folder names it by that folder", async () => {
    const root = path.join(tmp(), 'web01');
    virtualbox(root, 'web01');
    expect(await labels(root)).toEqual(['virtualbox:web01/web01']);
  });
});
