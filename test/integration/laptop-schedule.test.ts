// Laptop-aware schedules: the scheduler on a manual clock, fed recorded /sys/class/power_supply
// trees in turn: a slot passed on battery waits, and runs once, as a catch-up, when the laptop is
// plugged in; the dashboard says why the next backup waits meanwhile.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deferral, readPowerSupply } from '../../main/core/power.js';
import { Scheduler } from '../../main/core/scheduler.js';
import { unwrap } from '../helpers/cli.js';
import { useEngines } from '../helpers/engine.js';
import { repoRoot, useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const open = useEngines();
const recorded = (name: string) => path.join(repoRoot, 'test/fixtures/power_supply', name);

async function laptop() {
  const dir = tmp();
  const { engine, router } = open(path.join(dir, 'data'));
  engine.protection.timeZone = 'Europe/Amsterdam';
  const vmDir = path.join(dir, 'src', 'rack1');
  fs.mkdirSync(vmDir, { recursive: true });
  fs.writeFileSync(path.join(vmDir, 'db01.img'), randomBytes(64 * 1024));
  fs.writeFileSync(
    path.join(vmDir, 'db01.xml'),
    `<domain type='kvm'><name>db01</name><uuid>5e0f8a1c-2222-4333-8444-555566661515</uuid><devices><disk type='file' device='disk'><source file='db01.img'/><target dev='vda'/></disk></devices></domain>`,
  );
  unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
  unwrap(await router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'src'), region: 'r1' }));
  await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);
  for (const j of unwrap(await router.invoke('registerVms', { vault: 'vault-a', vms: ['db01'] }))) await engine.jobs.wait(j.id);
  unwrap(await router.invoke('createPolicy', { vault: 'vault-a', name: 'Lunch', spec: { schedule: { kind: 'daily', times: ['12:00'] }, retention: { dailyDays: 7 } } }));
  for (const j of unwrap(await router.invoke('protectVms', { vault: 'vault-a', vms: ['db01'], policy: 'Lunch' }))) await engine.jobs.wait(j.id);
  engine.db.prepare("UPDATE vms SET protected_at = '2026-04-01T06:00:00.000Z'").run();
  // The power source plays the recording the test moves through.
  const power = { tree: recorded('laptop-charging-20') };
  engine.power = { read: () => readPowerSupply(power.tree) };
  const rules = { batteryBelowPercent: 30, deferOnMetered: true };
  const scheduler = new Scheduler(engine.db, engine.protection, undefined, (remote) => deferral(engine.power!.read(), remote, rules));
  return { engine, scheduler, power };
}

const at = (iso: string) => new Date(iso);

describe('laptop-aware schedules', () => {
  it('defers the noon backup while on battery at 20%, then catches up once when plugged in', async () => {
    const { engine, scheduler, power } = await laptop();
    power.tree = recorded('laptop-on-battery-20');
    expect(scheduler.tick(at('2026-04-01T10:00:30Z'))).toEqual([]); // 12:00 CEST, on battery
    expect(scheduler.tick(at('2026-04-01T11:00:00Z'))).toEqual([]);
    expect(engine.dashboard(at('2026-04-01T11:00:00Z')).vms.map((v) => [v.name, v.deferred])).toEqual([['db01', 'onBattery']]);
    power.tree = recorded('laptop-charging-20'); // plugged in at 13:30 CEST
    const caught = scheduler.tick(at('2026-04-01T11:30:00Z'));
    expect(caught.map((j) => [j.operation, j.trigger, j.vmName])).toEqual([['Backup', 'catchUp', 'db01']]);
    expect((await engine.jobs.wait(caught[0]!.id)).status).toBe('Completed');
    expect(scheduler.tick(at('2026-04-01T11:31:00Z'))).toEqual([]); // once
    expect(engine.dashboard(at('2026-04-01T11:31:00Z')).vms[0]!.deferred).toBeNull();
  });

  it('runs on time on battery above the threshold, and never defers a machine without a battery', async () => {
    const { engine, scheduler, power } = await laptop();
    power.tree = recorded('laptop-on-battery-80');
    const [job] = scheduler.tick(at('2026-04-01T10:00:30Z'));
    expect(job).toMatchObject({ trigger: 'scheduled' });
    await engine.jobs.wait(job!.id);
    power.tree = recorded('server-no-battery');
    const [next] = scheduler.tick(at('2026-04-02T10:00:30Z'));
    expect(next).toMatchObject({ trigger: 'scheduled' });
    await engine.jobs.wait(next!.id);
  });
});
