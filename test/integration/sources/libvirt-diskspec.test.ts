import { describe, expect, it } from 'vitest';
import { parseXml, xmlAttr, xmlChild, xmlList } from '../../../main/core/sources/formats/xml.js';
import { diskOnlySnapshotArgs } from '../../../main/core/sources/libvirt-snapshot.js';
import { virsh } from '../../../main/core/sources/libvirt.js';

// The real virsh parses the --diskspec values (--print-xml shows the snapshot it would request).
const TEST_DOMAIN = '6695eb01-f6a4-8304-79aa-97f2502e193f'; // the "test" domain of test:///default

describe('disk-only snapshot arguments as virsh reads them', () => {
  it('an overlay path with commas stays one file and injects no field', async () => {
    const overlay = '/srv/vm,driver=raw,snapshot=no/web.qcow2.coffer-x.overlay.qcow2';
    const args = diskOnlySnapshotArgs(TEST_DOMAIN, 'coffer-x', [{ name: 'vda', overlayPath: overlay }], ['sda'], false);
    const xml = await virsh('test:///default', [...args, '--print-xml']);
    const disks = xmlList(xmlChild(xmlChild(parseXml(xml), 'domainsnapshot'), 'disks')?.['disk']);
    expect(disks.map((d) => [xmlAttr(d, 'name'), xmlAttr(d, 'snapshot'), xmlAttr(xmlChild(d, 'source'), 'file'), xmlChild(d, 'driver') !== undefined])).toEqual([
      ['vda', 'external', overlay, false],
      ['sda', 'no', undefined, false],
    ]);
  });
});
