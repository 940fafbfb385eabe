import { describe, expect, it } from 'vitest';
import { endOfLocalDay, retainUntilInstant } from '../../../main/core/policy/retention.js';
import { methods } from '../../../preload/contract.js';

describe('endOfLocalDay: what --retain-until DATE means', () => {
  it.each([
    ['2026-03-27', 'Europe/Amsterdam', '2026-03-27T22:59:59.999Z'], // CET
    ['2026-03-29', 'Europe/Amsterdam', '2026-03-29T21:59:59.999Z'], // the spring-forward day ends in CEST
    ['2026-10-25', 'Europe/Amsterdam', '2026-10-25T22:59:59.999Z'], // the fall-back day has 25 hours
    ['2026-12-31', 'UTC', '2026-12-31T23:59:59.999Z'],
    ['2026-06-30', 'America/New_York', '2026-07-01T03:59:59.999Z'],
    ['2026-06-30', 'Pacific/Kiritimati', '2026-06-30T09:59:59.999Z'], // UTC+14
  ])('%s in %s ends at %s', (date, zone, iso) => {
    expect(endOfLocalDay(date, zone).toISOString()).toBe(iso);
  });

  it('takes a date-time as the instant it names', () => {
    expect(retainUntilInstant('2026-06-30T12:00:00Z', 'Europe/Amsterdam').toISOString()).toBe('2026-06-30T12:00:00.000Z');
    expect(retainUntilInstant('2026-06-30', 'Europe/Amsterdam').toISOString()).toBe('2026-06-30T21:59:59.999Z');
  });

  it('refuses what is not a calendar date', () => {
    for (const bad of ['30-06-2026', '2027-02-30', '2027-13-01', '2027-01-15T10:00:00Z', '']) expect(() => endOfLocalDay(bad, 'UTC')).toThrow(RangeError);
  });

  it('the contract refuses a day that does not exist before any face sends it', () => {
    expect(methods.backupNow.args.safeParse({ vms: ['a'], retainUntil: '2027-02-30' }).success).toBe(false);
    expect(methods.backupNow.args.safeParse({ vms: ['a'], retainUntil: '2027-02-28' }).success).toBe(true);
  });
});
