import { describe, expect, it } from 'vitest';
import { endOfLocalDay, retainUntilInstant } from '../../../main/core/policy/retention.js';

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

  it('refuses what is not a date', () => {
    expect(() => endOfLocalDay('30-06-2026', 'UTC')).toThrow(RangeError);
  });
});
