import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFromMagic, qcow2BackingFromHeader } from '../../../main/core/sources/formats/disk-image.js';
import { parseLibvirtDomainXml } from '../../../main/core/sources/formats/libvirt-xml.js';
import { parseOvf } from '../../../main/core/sources/formats/ovf.js';
import { parseVbox, vboxDiskList } from '../../../main/core/sources/formats/vbox.js';
import { parseVmdkDescriptor } from '../../../main/core/sources/formats/vmdk.js';
import { normaliseVmwareUuid, parseVmx } from '../../../main/core/sources/formats/vmx.js';
import { cloudServiceFromUri, parseDomblklist, powerStateFromDomstate } from '../../../main/core/sources/libvirt.js';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('disk format by magic bytes', () => {
  const head = (bytes: Buffer, at = 0) => {
    const b = Buffer.alloc(512);
    bytes.copy(b, at);
    return b;
  };
  it.each<[string, Buffer, Buffer | undefined, string]>([
    ['qcow2', head(Buffer.from([0x51, 0x46, 0x49, 0xfb])), undefined, 'qcow2'],
    ['vmdk sparse', head(Buffer.from('KDMV')), undefined, 'vmdk'],
    ['vmdk descriptor', head(Buffer.from('# Disk DescriptorFile\nversion=1\n')), undefined, 'vmdk'],
    ['vhdx', head(Buffer.from('vhdxfile')), undefined, 'vhdx'],
    ['vdi', head(Buffer.from([0x7f, 0x10, 0xda, 0xbe]), 0x40), undefined, 'vdi'],
    ['fixed vhd (footer only)', head(Buffer.alloc(0)), head(Buffer.from('conectix')), 'vhd'],
    ['zeros', head(Buffer.alloc(0)), head(Buffer.alloc(0)), 'raw'],
  ])('%s', (_n, h, t, want) => {
    expect(formatFromMagic(h, t)).toBe(want);
  });
});

describe('qcow2 header', () => {
  const header = (backing?: string) => {
    const b = Buffer.alloc(512);
    b.writeUInt32BE(0x514649fb, 0);
    b.writeUInt32BE(3, 4);
    if (backing) {
      b.writeBigUInt64BE(112n, 8);
      b.writeUInt32BE(Buffer.byteLength(backing), 16);
      b.write(backing, 112);
    }
    return b;
  };
  it('reads the backing file name at the offset and size in bytes 8..19', () => {
    expect(qcow2BackingFromHeader(header('../base/debian 12.qcow2'))).toBe('../base/debian 12.qcow2');
  });
  it('says there is no backing file when the offset is zero', () => {
    expect(qcow2BackingFromHeader(header())).toBeUndefined();
  });
  it('refuses something that is not qcow2', () => {
    expect(() => qcow2BackingFromHeader(Buffer.alloc(64))).toThrow(/not a qcow2/);
  });
});

describe('vmdk descriptor', () => {
  it('lists extents and the parent of a delta disk', () => {
    const d = parseVmdkDescriptor(
      [
        '# Disk DescriptorFile',
        'version=1',
        'CID=fffffffe',
        'parentCID=9aa5bb30',
        'createType="twoGbMaxExtentSparse"',
        'parentFileNameHint="web.vmdk"',
        '# Extent description',
        'RW 4192256 SPARSE "web-000001-s001.vmdk"',
        'RW 2048 SPARSE "web-000001-s002.vmdk"',
        'RDONLY 2048 ZERO',
      ].join('\n'),
    );
    expect(d.createType).toBe('twoGbMaxExtentSparse');
    expect(d.parentFileNameHint).toBe('web.vmdk');
    expect(d.extents.map((e) => e.file)).toEqual(['web-000001-s001.vmdk', 'web-000001-s002.vmdk', undefined]);
  });
});

describe('libvirt domain XML', () => {
  it('reads name, uuid, every disk with its source, format and chain, and a connected guest agent', () => {
    const d = parseLibvirtDomainXml(fixture('libvirt-web01.xml'))!;
    expect(d).toMatchObject({ type: 'kvm', name: 'web01', uuid: '3f6a1c2e-8b9d-4e0f-a1b2-c3d4e5f6a7b8', guestAgent: 'connected' });
    expect(d.disks.map((x) => [x.target, x.device, x.sourceType, x.path, x.format])).toEqual([
      ['vda', 'disk', 'file', '/var/lib/libvirt/images/web01-overlay.qcow2', 'qcow2'],
      ['vdb', 'disk', 'block', '/dev/vg0/web01-data', 'raw'],
      ['vdc', 'disk', 'network', undefined, 'raw'],
      ['sda', 'cdrom', 'file', undefined, 'raw'],
    ]);
    expect(d.disks[0]!.backingStore).toEqual([{ path: '/var/lib/libvirt/images/debian12-base.qcow2', format: 'qcow2' }]);
    expect(d.disks[3]!.readonly).toBe(true);
  });
  it('tells a configured agent channel without state from none at all', () => {
    const xml = (ch: string) => `<domain type='kvm'><name>a</name><devices>${ch}</devices></domain>`;
    expect(parseLibvirtDomainXml(xml("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"))!.guestAgent).toBe('configured');
    expect(parseLibvirtDomainXml(xml("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/></channel>"))!.guestAgent).toBe('disconnected');
    expect(parseLibvirtDomainXml(xml(''))!.guestAgent).toBe('absent');
  });
  it('is not fooled by other XML documents', () => {
    expect(parseLibvirtDomainXml("<network><name>default</name></network>")).toBeUndefined();
    expect(parseLibvirtDomainXml("<domainsnapshot><name>s1</name></domainsnapshot>")).toBeUndefined();
  });
});

describe('VirtualBox .vbox', () => {
  it('reads the machine, its differencing chain and which disk the current state uses', () => {
    const m = parseVbox(fixture('ubuntu-lab.vbox'))!;
    expect(m).toMatchObject({ name: 'ubuntu-lab', uuid: '8f2d3c4e-1a2b-4c5d-9e8f-0a1b2c3d4e5f' });
    // Only the current state's attachment counts, not the one inside <Snapshot>.
    expect(m.attached).toEqual(['3c1b7d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e']);
    const disks = vboxDiskList(m, '/vms/ubuntu-lab');
    expect(disks).toEqual([
      { name: '{3c1b7d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e}.vdi', path: '/vms/ubuntu-lab/Snapshots/{3c1b7d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e}.vdi', role: 'disk' },
      { name: 'ubuntu-lab.vdi', path: '/vms/ubuntu-lab/ubuntu-lab.vdi', role: 'backing' },
    ]);
  });
});

describe('VMware .vmx', () => {
  it('reads displayName, uuid.bios and the hard disks, skipping CD-ROMs and absent devices', () => {
    const v = parseVmx(fixture('vmware-web.vmx'));
    expect(v.displayName).toBe('Web Server');
    expect(v.uuidBios).toBe('564d9c2e-3b7a-1f0d-8a4c-2b1e5f6a7b8c');
    expect(v.disks).toEqual([
      { key: 'nvme0:0', fileName: '/srv/vmware/shared/logs.vmdk' },
      { key: 'scsi0:0', fileName: 'Web Server-000001.vmdk' },
      { key: 'scsi0:1', fileName: 'data"quoted".vmdk' },
    ]);
    expect(v.suspendFile).toBeUndefined();
  });
  it('normalises uuid.bios and rejects garbage', () => {
    expect(normaliseVmwareUuid('56 4d 9c 2e 3b 7a 1f 0d-8a 4c 2b 1e 5f 6a 7b 8c')).toBe('564d9c2e-3b7a-1f0d-8a4c-2b1e5f6a7b8c');
    expect(normaliseVmwareUuid('not a uuid')).toBeUndefined();
  });
});

describe('OVF', () => {
  it('reads the virtual system and its file references (namespaced attributes)', () => {
    expect(parseOvf(fixture('web-export.ovf'))).toEqual({
      id: 'web-export',
      name: 'web-export',
      files: [
        { id: 'file1', href: 'web-export-disk1.vmdk' },
        { id: 'file2', href: 'web-export-file1.nvram' },
      ],
    });
  });
});

describe('virsh output', () => {
  it.each([
    ['qemu:///system', 'localhost'],
    ['qemu+ssh://root@host1/system', 'host1'],
    ['qemu+ssh://host1:2222/system?keyfile=/k', 'host1'],
    ['qemu+tcp://[fd00::5]/system', 'fd00::5'],
    ['test:///default', 'test'],
    ['test:///tmp/x/node.xml', 'test'],
  ])('cloud service of %s is %s', (uri, want) => {
    expect(cloudServiceFromUri(uri)).toBe(want);
  });
  it.each([
    ['running\n\n', 'running'],
    ['shut off\n', 'off'],
    ['paused\n', 'paused'],
    ['in shutdown\n', 'running'],
    ['pmsuspended\n', 'paused'],
    ['crashed\n', 'off'],
    ['nonsense', 'unknown'],
  ])('domstate %j', (text, want) => {
    expect(powerStateFromDomstate(text)).toBe(want);
  });
  it('parses domblklist --details, keeping spaces in paths', () => {
    const text = [
      ' Type   Device   Target   Source',
      '-------------------------------------------------------',
      ' file   disk     vda      /var/lib/libvirt/images/my disk.qcow2',
      ' block  disk     vdb      /dev/vg0/data',
      ' file   cdrom    sda      -',
      '',
    ].join('\n');
    expect(parseDomblklist(text)).toEqual([
      { type: 'file', device: 'disk', target: 'vda', source: '/var/lib/libvirt/images/my disk.qcow2' },
      { type: 'block', device: 'disk', target: 'vdb', source: '/dev/vg0/data' },
      { type: 'file', device: 'cdrom', target: 'sda', source: '-' },
    ]);
  });
});
