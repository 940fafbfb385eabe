import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job, ProtectedItem } from '../../../preload/contract.js';
import type { PolicySchedule, RetentionSpec } from '../../../preload/policy.js';
import { Engine } from '../../../main/core/engine.js';
import { createRouter } from '../../../main/rpc/router.js';
import { cofferIn, unwrap } from '../../helpers/cli.js';
import { useTmp } from '../../helpers/tmp.js';

// Issue 12 item 6: a Backup Now point says until when it is kept and why (the date given, or the
// default and its days), from the core to every face; Protected Items carries the job running on
// a VM, with its progress, until it ends.
const tmp = useTmp();
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});
const DAY = 86_400_000;

async function protectedWeb(retention: RetentionSpec, schedule: PolicySchedule = { kind: 'daily', times: ['22:00'] }) {
  const dir = tmp();
  const root = path.join(dir, 'src');
  const data = path.join(dir, 'data');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'web.img'), randomBytes(256 * 1024));
  fs.writeFileSync(
    path.join(root, 'web.xml'),
    `<domain type='kvm'><name>web</name><uuid>7a1b2c3d-1111-4222-8333-444455556677</uuid><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='web.img'/><target dev='vda'/></disk></devices></domain>`,
  );
  const engine = Engine.open({ dataDir: data });
  engines.push(engine);
  engine.protection.timeZone = 'UTC';
  const router = createRouter(engine, 'cli');
  unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
  unwrap(await router.invoke('addSource', { kind: 'folder', target: root, region: 'r1', name: 'lab' }));
  await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);
  for (const j of unwrap(await router.invoke('registerVms', { vault: 'vault-a', vms: ['web'] }))) await engine.jobs.wait(j.id);
  unwrap(await router.invoke('createPolicy', { vault: 'vault-a', name: 'Nightly', spec: { schedule, retention } }));
  for (const j of unwrap(await router.invoke('protectVms', { vault: 'vault-a', vms: ['web'], policy: 'Nightly' }))) await engine.jobs.wait(j.id);
  const points = async () => unwrap(await router.invoke('listPoints', { vm: 'web' }));
  return { data, engine, router, points };
}

describe('a Backup Now point without a date', () => {
  it('is kept until the policy daily retention from when it was asked, and the console and CLI say so', { timeout: 60_000 }, async () => {
    const { data, engine, router, points } = await protectedWeb({ dailyDays: 7 });
    const asked = Date.now();
    const [job] = unwrap(await router.invoke('backupNow', { vms: ['web'] }));
    expect((await engine.jobs.wait(job!.id)).status).toBe('Completed');
    const [point] = await points();
    expect(point!.keptBy).toContain('retain-until');
    expect(point!.keptUntil?.basis).toEqual({ kind: 'default', days: 7, from: 'daily' });
    // The instant is 7 days after the request (UTC here: no clock change in between).
    const until = Date.parse(point!.keptUntil!.until);
    expect(until - 7 * DAY).toBeGreaterThanOrEqual(asked);
    expect(until - 7 * DAY).toBeLessThanOrEqual(Date.parse(job!.createdAt));
    // The same instant the vault's manifest holds.
    expect(point!.retainUntil).toBe(point!.keptUntil!.until);

    const table = cofferIn(data)('point', 'list', 'web');
    expect(table.code, table.err).toBe(0);
    expect(table.out).toContain('KEPT UNTIL');
    expect(table.out).toContain(`${point!.keptUntil!.until} (Backup Now default: the policy's daily retention, 7 days)`);
  });

  it('without a daily tier is kept 30 days, and a date given is kept as given', { timeout: 60_000 }, async () => {
    const { engine, router, points } = await protectedWeb({ weekly: { weekday: 'SUN', weeks: 4 } }, { kind: 'weekly', weekdays: ['SUN'], times: ['22:00'] });
    const asked = Date.now();
    const [first] = unwrap(await router.invoke('backupNow', { vms: ['web'] }));
    await engine.jobs.wait(first!.id);
    const next = `${new Date().getUTCFullYear() + 1}-12-31`;
    const [second] = unwrap(await router.invoke('backupNow', { vms: ['web'], retainUntil: next }));
    await engine.jobs.wait(second!.id);
    const [given, fallback] = await points();
    expect(fallback!.keptUntil?.basis).toEqual({ kind: 'default', days: 30, from: 'fallback' });
    expect(Date.parse(fallback!.keptUntil!.until) - 30 * DAY).toBeGreaterThanOrEqual(asked);
    expect(given!.keptUntil).toEqual({ until: `${next}T23:59:59.999Z`, basis: { kind: 'chosen' } });
  });
});

describe('Protected Items while a backup runs', () => {
  it('carries the running job with its progress, then the finished backup', { timeout: 60_000 }, async () => {
    const { engine, router } = await protectedWeb({ dailyDays: 7 });
    const item = async (): Promise<ProtectedItem> => unwrap(await router.invoke('listProtectedItems', { vault: 'vault-a' }))[0]!;
    expect((await item()).activeJob).toBeNull();
    // What the listing says at the moment each job event goes out (the console reloads on them).
    const seen: Array<{ event: Job; listed: Job | null }> = [];
    const off = engine.subscribe((name, payload) => {
      const job = payload as Job;
      if (name !== 'jobUpdated' || job.operation !== 'Backup' || job.status !== 'InProgress' || job.bytesTotal === 0) return;
      seen.push({ event: job, listed: engine.protectedItems('vault-a').find((i) => i.id === job.vmId)?.activeJob ?? null });
    });
    try {
      const [job] = unwrap(await router.invoke('backupNow', { vms: ['web'] }));
      expect((await item()).activeJob?.id).toBe(job!.id);
      expect((await engine.jobs.wait(job!.id)).status).toBe('Completed');
      expect(seen.length).toBeGreaterThan(0);
      for (const s of seen) {
        expect(s.listed).toMatchObject({ id: job!.id, operation: 'Backup', status: 'InProgress', bytesTotal: 256 * 1024, bytesDone: s.event.bytesDone });
      }
      const done = await item();
      expect(done.activeJob).toBeNull();
      expect(done.lastBackupStatus).toBe('Completed');
    } finally {
      off();
    }
  });
});
