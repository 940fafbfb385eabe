import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';
import {
  decodePolicyRecord,
  decodeProtectionRecord,
  encodePolicyRecord,
  putPolicyRecord,
  putProtectionRecord,
  readPolicyRecords,
  readProtectionRecords,
  type PolicyRecord,
  type ProtectionRecord,
} from '../../../main/core/vault/records.js';
import { useTmp } from '../../helpers/tmp.js';

const tmp = useTmp();
const keys = () => ({ encKey: randomBytes(32), macKey: randomBytes(32) });

const policy: PolicyRecord = {
  format: 'coffer-policy',
  version: 1,
  id: '0f8e2d4c-1111-4222-8333-444455556666',
  name: 'Gold',
  builtin: false,
  spec: { schedule: { kind: 'daily', times: ['21:00'] }, retention: { dailyDays: 14 } },
  created: '2026-01-01T00:00:00.000Z',
  updated: '2026-01-02T00:00:00.000Z',
};
const protection: ProtectionRecord = {
  format: 'coffer-protection',
  version: 1,
  vmKey: '5e0f8a1c-2222-4333-8444-555566667777',
  vm: { name: 'web01', cloudService: 'shop', region: 'lab', kind: 'libvirt', stableId: '7a1b2c3d-1111-4222-8333-444455556666' },
  policyId: policy.id,
  policyName: 'Gold',
  state: 'protected',
  updated: '2026-01-02T00:00:00.000Z',
};

describe('policy and protection records', () => {
  it('round-trip sealed, and are bound to their name: a record copied under another name is refused', () => {
    const k = keys();
    const blob = encodePolicyRecord(k, policy);
    expect(blob.includes(Buffer.from('Gold'))).toBe(false);
    expect(decodePolicyRecord(k, policy.id, blob)).toEqual(policy);
    expect(() => decodePolicyRecord(k, 'aaaaaaaa-1111-4222-8333-444455556666', blob)).toThrow(expect.objectContaining({ code: 'ChunkCorrupt' }));
    expect(() => decodePolicyRecord(keys(), policy.id, blob)).toThrow(expect.objectContaining({ code: 'ChunkCorrupt' }));
    // A policy record is no protection record, even under the same name.
    expect(() => decodeProtectionRecord(k, policy.id, blob)).toThrow(expect.objectContaining({ code: 'ChunkCorrupt' }));
  });

  it('are listed from the store; damaged ones are reported, temp files ignored', async () => {
    const dir = tmp();
    const store = new LocalFolderStore(dir);
    const k = keys();
    await putPolicyRecord(store, k, policy);
    await putProtectionRecord(store, k, protection);
    await putProtectionRecord(store, k, { ...protection, vmKey: 'other-vm', state: 'stopped' });
    const damaged = path.join(dir, 'protection', 'other-vm');
    const bytes = fs.readFileSync(damaged);
    bytes[20]! ^= 1;
    fs.writeFileSync(damaged, bytes);
    fs.writeFileSync(path.join(dir, 'policies', '.tmp-0123'), 'half');
    expect(await readPolicyRecords(store, k)).toEqual({ records: [policy], unreadable: [] });
    expect(await readProtectionRecords(store, k)).toEqual({ records: [protection], unreadable: ['protection/other-vm'] });
    expect(await readPolicyRecords(new LocalFolderStore(path.join(dir, 'none')), k)).toEqual({ records: [], unreadable: [] });
  });
});
