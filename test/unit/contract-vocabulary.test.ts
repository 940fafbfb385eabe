// The contract's vocabulary: the state sets every face shows, and the few rules on them that
// the console, the CLI and the engine share (one home each).
import { describe, expect, it } from 'vitest';
import { ErrorCode, Job, ProtectionState, diskCount, errorCatalog, isActiveProtection, protectionStates, vmLabel } from '../../preload/contract.js';

describe('contract vocabulary', () => {
  it('names a VM as cloudservice/name, or by its name alone without a cloud service', () => {
    expect(vmLabel({ name: 'web01', cloudService: 'shop' })).toBe('shop/web01');
    expect(vmLabel({ name: 'web01', cloudService: '' })).toBe('web01');
    expect(vmLabel({ name: 'web01', cloudService: null })).toBe('web01');
  });

  it('counts a VM’s own disks, not backing files or the extents of a split disk', () => {
    const disk = (name: string, extra: object = {}) => ({ name, path: `/vm/${name}`, format: 'vmdk', exists: true, role: 'disk' as const, ...extra });
    expect(
      diskCount({
        disks: [disk('a.vmdk'), disk('a-s001.vmdk', { extentOf: 'a.vmdk' }), disk('base.qcow2', { role: 'backing' }), disk('b.vmdk')],
      }),
    ).toBe(2);
  });

  it('treats every protection state but stopped (and never protected) as active', () => {
    expect(protectionStates.filter((s) => isActiveProtection(s))).toEqual(['ProtectedPendingInitialBackup', 'Protected', 'ProtectionError']);
    expect(isActiveProtection(null)).toBe(false);
  });

  it('refuses a state or an error code outside the vocabulary', () => {
    expect(ProtectionState.safeParse('Protectd').success).toBe(false);
    expect(ErrorCode.options).toEqual(Object.keys(errorCatalog));
    expect(Job.shape.error.safeParse({ code: 'NoSuchCode', message: 'm', remedy: 'r' }).success).toBe(false);
  });
});
