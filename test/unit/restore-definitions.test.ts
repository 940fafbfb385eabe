// What a restore to libvirt reads from another hypervisor's definition (CPUs, memory, firmware,
// disks and their bus, adapters), the domain XML made of it as libvirt's test driver reads it back,
// the test boot's adaptation of a libvirt definition, and qemu-img's progress records.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQemuImgProgress } from '../../main/core/protection/convert.js';
import { retargetDefinition } from '../../main/core/protection/definition.js';
import { adaptDomainForTest, libvirtDomainXml } from '../../main/core/protection/domain-xml.js';
import { hardwareOf } from '../../main/core/sources/formats/hardware.js';
import { useTmp } from '../helpers/tmp.js';

const fixture = (f: string) => fs.readFileSync(path.join(import.meta.dirname, 'sources/fixtures', f), 'utf8');
const tmp = useTmp();
const noVirsh = spawnSync('sh', ['-c', 'command -v virsh'], { stdio: 'ignore' }).status !== 0;

describe('hardware of a definition', () => {
  it('reads a VMware .vmx: vCPUs, memory, present disks with their bus, adapters', () => {
    expect(hardwareOf('web.vmx', fixture('vmware-web.vmx'))).toEqual({
      cpus: 2,
      memoryMiB: 2048,
      firmware: 'bios',
      disks: [
        { file: 'logs.vmdk', bus: 'sata' },
        { file: 'Web Server-000001.vmdk', bus: 'scsi' },
        { file: 'data"quoted".vmdk', bus: 'scsi' },
      ],
      nics: 1,
    });
  });

  it('reads a VirtualBox .vbox: the current state (not a snapshot), the attached medium, the SATA bus', () => {
    expect(hardwareOf('ubuntu-lab.vbox', fixture('ubuntu-lab.vbox'))).toEqual({
      cpus: 2,
      memoryMiB: 2048,
      firmware: 'bios',
      disks: [{ file: '{3c1b7d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e}.vdi', bus: 'sata' }],
      nics: 1,
    });
  });

  it('reads an OVF: CPU and memory items in their units, disks through DiskSection to their files, EFI', () => {
    const ovf = fixture('web-export.ovf').replace(
      '</VirtualHardwareSection>',
      `<Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>4</rasd:VirtualQuantity></Item>
       <Item><rasd:AllocationUnits>byte * 2^30</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>3</rasd:VirtualQuantity></Item>
       <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>6</rasd:ResourceType></Item>
       <Item><rasd:InstanceID>7</rasd:InstanceID><rasd:ResourceType>10</rasd:ResourceType></Item>
       <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
      </VirtualHardwareSection>`,
    );
    expect(hardwareOf('web-export.ovf', ovf)).toEqual({ cpus: 4, memoryMiB: 3072, firmware: 'efi', disks: [{ file: 'web-export-disk1.vmdk', bus: 'scsi' }], nics: 1 });
  });

  it('has nothing to say about a libvirt XML (a domain already) or another file', () => {
    expect(hardwareOf('web01.xml', fixture('libvirt-web01.xml'))).toBeUndefined();
    expect(hardwareOf('notes.txt', 'hello')).toBeUndefined();
  });
});

describe('domain XML of a restored VM', () => {
  it.skipIf(noVirsh)('is defined by libvirt (test driver) with the disks in order, targets per bus, adapters link-down', () => {
    const dir = tmp();
    const xml = libvirtDomainXml({
      name: 'web & co',
      type: 'test',
      cpus: 3,
      memoryMiB: 1536,
      firmware: 'bios',
      disks: [
        { path: path.join(dir, "a'1.qcow2"), format: 'qcow2', bus: 'scsi' },
        { path: path.join(dir, 'b.qcow2'), format: 'qcow2', bus: 'scsi' },
        { path: path.join(dir, 'c.img'), format: 'raw', bus: 'ide' },
      ],
      nics: 2,
    });
    const file = path.join(dir, 'd.xml');
    fs.writeFileSync(file, xml);
    const back = execFileSync('virsh', ['-q', '-c', 'test:///default', `define --file ${file} ; dumpxml --domain 'web & co'`], { encoding: 'utf8' });
    expect(back).toContain('<name>web &amp; co</name>');
    expect(back).toMatch(/<vcpu[^>]*>3<\/vcpu>/);
    expect([...back.matchAll(/<target dev='(\w+)' bus='(\w+)'\/>/g)].map((m) => `${m[1]}:${m[2]}`)).toEqual(['sda:scsi', 'sdb:scsi', 'hda:ide']);
    expect(back.match(/<link state='down'\/>/g)).toHaveLength(2);
    expect(back).toContain(`<source file='${path.join(dir, 'a&apos;1.qcow2')}'/>`);
  });

  it('for a test boot: new name and UUID, TCG where KVM is missing, adapters on the isolated network, serial to a file', () => {
    const adapted = adaptDomainForTest(fixture('libvirt-web01.xml'), { name: 'coffer-test-p1-abc', type: 'qemu', network: 'coffer-test-p1-abc', serialLog: '/x/serial.log' });
    expect(adapted).toContain('<name>coffer-test-p1-abc</name>');
    expect(adapted).not.toContain(fixture('libvirt-web01.xml').match(/<uuid>([^<]*)<\/uuid>/)?.[1] ?? 'no-uuid');
    expect(adapted).toMatch(/^<domain type='qemu'/m);
    expect(adapted).toContain("<interface type='network'><source network='coffer-test-p1-abc'/>");
    expect(adapted.match(/<serial\b/g)).toHaveLength(1);
    expect(adapted).toContain("<serial type='file'><source path='/x/serial.log'/>");
  });

  it('a converted disk replaces the old one in a restored domain XML, with its type and without its backing chain', () => {
    const dir = tmp();
    const file = path.join(dir, 'web.xml');
    fs.writeFileSync(
      file,
      `<domain type='kvm'><name>web</name><devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${dir}/web.img'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${dir}/data.qcow2'/><backingStore type='file'><format type='qcow2'/><source file='/old/base.qcow2'/></backingStore><target dev='vdb' bus='virtio'/></disk>
      </devices></domain>`,
    );
    retargetDefinition(file, [
      { from: `${dir}/web.img`, path: `${dir}/web.vmdk`, format: 'vmdk' },
      { from: `${dir}/data.qcow2`, path: `${dir}/data-1.vmdk`, format: 'vmdk' },
    ]);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain(`<driver name='qemu' type='vmdk'/><source file='${dir}/web.vmdk'/>`);
    expect(text).toContain(`<driver name='qemu' type='vmdk'/><source file='${dir}/data-1.vmdk'/>`);
    expect(text).not.toContain('backingStore');
  });
});

describe('qemu-img convert -p progress', () => {
  it('takes the last record of a chunk', () => {
    expect(parseQemuImgProgress('    (0.00/100%)\r    (12.50/100%)\r')).toBe(0.125);
    expect(parseQemuImgProgress('    (100.00/100%)\r\n')).toBe(1);
    expect(parseQemuImgProgress('no progress here')).toBeUndefined();
  });
});
