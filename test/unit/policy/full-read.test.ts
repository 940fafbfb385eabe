import { describe, expect, it } from 'vitest';
import { describePolicy, fullReadInterval, PolicySpec, policySpecFromCli } from '../../../preload/policy.js';

describe("a policy's full-read interval", () => {
  it('defaults to once a week of the schedule', () => {
    const daily = { schedule: { kind: 'daily' as const, times: ['22:00'] }, retention: { dailyDays: 30 } };
    expect(fullReadInterval(daily)).toBe(7);
    expect(fullReadInterval({ ...daily, schedule: { kind: 'daily', times: ['06:00', '18:00'] } })).toBe(14);
    expect(fullReadInterval({ schedule: { kind: 'weekly', weekdays: ['SAT', 'SUN'], times: ['02:00'] } })).toBe(2);
    expect(fullReadInterval({ ...daily, fullReadEvery: 3 })).toBe(3);
  });

  it('is a whole number from 1 to 1000, from the console schema and the CLI flag alike', () => {
    const spec = (fullReadEvery: unknown) => PolicySpec.safeParse({ schedule: { kind: 'daily', times: ['22:00'] }, retention: { dailyDays: 30 }, fullReadEvery });
    expect(spec(1).success).toBe(true);
    expect(spec(1000).success).toBe(true);
    for (const bad of [0, 2.5, 1001, -1]) expect(spec(bad).success).toBe(false);
    const cli = policySpecFromCli({ daily: '22:00', keepDaily: '30', fullReadEvery: '5' });
    expect(cli.success && cli.data.fullReadEvery).toBe(5);
    expect(describePolicy(cli.data!)).toBe('Daily at 22:00; keep daily 30 days; full read every 5 backups');
    const words = policySpecFromCli({ daily: '22:00', keepDaily: '30', fullReadEvery: 'weekly' });
    expect(words.success).toBe(false);
    expect(words.error?.issues[0]).toMatchObject({ path: ['fullReadEvery'], message: '--full-read-every "weekly" must look like a number of backups, e.g. 7.' });
    const half = policySpecFromCli({ daily: '22:00', keepDaily: '30', fullReadEvery: '2,5' });
    expect(half.error?.issues[0]).toMatchObject({ path: ['fullReadEvery'], message: 'Full read every (backups) must be a whole number from 1 to 1000.' });
  });
});
