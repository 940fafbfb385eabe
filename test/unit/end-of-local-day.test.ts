import { describe, expect, it } from 'vitest';
import { endOfLocalDay } from '../../preload/policy.js';

describe('endOfLocalDay', () => {
  it('is the last millisecond of the day in the given zone', () => {
    expect(endOfLocalDay('2027-01-15', 'UTC')).toBe('2027-01-15T23:59:59.999Z');
    expect(endOfLocalDay('2027-01-15', 'Europe/Amsterdam')).toBe('2027-01-15T22:59:59.999Z');
    expect(endOfLocalDay('2027-07-15', 'Europe/Amsterdam')).toBe('2027-07-15T21:59:59.999Z');
    expect(endOfLocalDay('2027-01-15', 'America/New_York')).toBe('2027-01-16T04:59:59.999Z');
    expect(endOfLocalDay('2027-01-15', 'Asia/Kolkata')).toBe('2027-01-15T18:29:59.999Z');
  });

  it('holds on days whose offset changes', () => {
    // Amsterdam moves to summer time on 28 March 2027: the day ends at UTC+2.
    expect(endOfLocalDay('2027-03-28', 'Europe/Amsterdam')).toBe('2027-03-28T21:59:59.999Z');
    expect(endOfLocalDay('2027-10-31', 'Europe/Amsterdam')).toBe('2027-10-31T22:59:59.999Z');
  });

  it("without a zone uses this machine's", () => {
    const end = new Date(endOfLocalDay('2027-05-02'));
    expect([end.getFullYear(), end.getMonth(), end.getDate(), end.getHours(), end.getMinutes(), end.getSeconds(), end.getMilliseconds()]).toEqual([2027, 4, 2, 23, 59, 59, 999]);
  });

  it('refuses what is not a calendar date', () => {
    for (const bad of ['2027-02-30', '2027-13-01', '15-01-2027', '2027-01-15T10:00:00Z', '']) expect(() => endOfLocalDay(bad, 'UTC')).toThrow(RangeError);
  });
});
