import { describe, expect, it } from 'vitest';
import { diskOnlySnapshotArgs, diskspec } from '../../../main/core/sources/libvirt-snapshot.js';

describe('--diskspec values for virsh snapshot-create-as', () => {
  it('doubles commas so a path cannot end the field or add another', () => {
    expect(diskspec('vda', [['snapshot', 'external'], ['file', '/var/lib/vm,s/web.qcow2.coffer-x.overlay.qcow2']])).toBe(
      'vda,snapshot=external,file=/var/lib/vm,,s/web.qcow2.coffer-x.overlay.qcow2',
    );
    expect(diskspec('vda', [['file', '/tmp/a,driver=raw']])).toBe('vda,file=/tmp/a,,driver=raw');
    expect(diskspec('v,da', [['snapshot', 'no']])).toBe('v,,da,snapshot=no');
  });

  it('names the domain by UUID and every disk in its own --diskspec', () => {
    const uuid = '6695eb01-f6a4-8304-79aa-97f2502e193f';
    expect(diskOnlySnapshotArgs(uuid, 'coffer-1', [{ name: 'vda', overlayPath: '/d/a,b.qcow2' }], ['sda'], true)).toEqual([
      'snapshot-create-as', '--domain', uuid, '--name', 'coffer-1', '--disk-only', '--atomic', '--no-metadata', '--quiesce',
      '--diskspec', 'vda,snapshot=external,file=/d/a,,b.qcow2',
      '--diskspec', 'sda,snapshot=no',
    ]);
  });
});
