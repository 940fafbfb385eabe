// The one size formatter of console and CLI (preload/units.ts), the console's date and time
// fields both ways (renderer/src/i18n/dateTime.ts) and what a query's time bound means
// (preload/time-bounds.ts), in English and Dutch.
import { describe, expect, it } from 'vitest';
import { JobQuery } from '../../preload/contract.js';
import { boundsInOrder, endOfBound, withinBounds } from '../../preload/time-bounds.js';
import { formatBytes, formatRate } from '../../preload/units.js';
import {
  firstDayOfWeek,
  formatClock,
  formatDateField,
  formatTimeField,
  hourCycleOf,
  localDateTime,
  minuteBound,
  parseDateField,
  parseTimeField,
} from '../../renderer/src/i18n/dateTime.js';
import { rangeProblems, rangeQuery } from '../../renderer/src/jobs/JobFilters.js';
import { translate } from '../../renderer/src/i18n/index.js';

describe('sizes: binary units, locale digits', () => {
  it.each([
    [0, '0 B', '0 B'],
    [1023, '1023 B', '1023 B'],
    [1024, '1.0 KiB', '1,0 KiB'],
    [1536, '1.5 KiB', '1,5 KiB'],
    [1024 * 1024 - 10, '1.0 MiB', '1,0 MiB'],
    [5.25 * 1024 ** 3, '5.3 GiB', '5,3 GiB'],
    [3 * 1024 ** 4, '3.0 TiB', '3,0 TiB'],
  ])('%d bytes read %s (en) and %s (nl)', (n, en, nl) => {
    expect(formatBytes(n, 'en')).toBe(en);
    expect(formatBytes(n, 'nl')).toBe(nl);
  });

  it('the CLI (no locale) reads English, and rates use the same units', () => {
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatRate(12.5 * 1024 * 1024, 'nl')).toBe('12,5 MiB/s');
    expect(formatBytes(-5)).toBe('0 B');
  });
});

describe('date and time fields', () => {
  const evening = new Date(2026, 11, 1, 22, 0);

  it('show the locale format: nl dd-mm-yyyy and 24 h, en mm/dd/yyyy and AM/PM', () => {
    expect(formatDateField(evening, 'nl')).toBe('01-12-2026');
    expect(formatDateField(evening, 'en')).toBe('12/01/2026');
    expect(formatTimeField(evening, 'nl')).toBe('22:00');
    expect(formatTimeField(evening, 'en')).toBe('10:00 PM');
    expect(formatClock('22:00', 'en')).toBe('10:00 PM');
    expect(formatClock('07:05', 'nl')).toBe('07:05');
    expect([hourCycleOf('nl'), hourCycleOf('en')]).toEqual(['h23', 'h12']);
    expect([firstDayOfWeek('nl'), firstDayOfWeek('en')]).toEqual([1, 0]);
  });

  it('read typed dates in the locale order, and refuse impossible days and odd years', () => {
    expect(parseDateField('1-12-2026', 'nl')).toEqual(new Date(2026, 11, 1));
    expect(parseDateField('01.12.2026', 'nl')).toEqual(new Date(2026, 11, 1));
    expect(parseDateField('12/1/2026', 'en')).toEqual(new Date(2026, 11, 1));
    expect(parseDateField('2026-12-01', 'nl')).toEqual(new Date(2026, 11, 1));
    expect(parseDateField('31-02-2026', 'nl')).toBeNull();
    expect(parseDateField('01-09-202609', 'nl')).toBeNull();
    expect(parseDateField('01-09-26', 'nl')).toBeNull();
    expect(parseDateField('01-09-1200', 'nl')).toBeNull();
    expect(parseDateField('tomorrow', 'en')).toBeNull();
  });

  it('read typed times on either clock', () => {
    expect(parseTimeField('22:00')).toEqual({ hours: 22, minutes: 0 });
    expect(parseTimeField('10:00 PM')).toEqual({ hours: 22, minutes: 0 });
    expect(parseTimeField('10:00\u202fpm')).toEqual({ hours: 22, minutes: 0 });
    expect(parseTimeField('12:30 AM')).toEqual({ hours: 0, minutes: 30 });
    expect(parseTimeField('9 am')).toEqual({ hours: 9, minutes: 0 });
    expect(parseTimeField('7.15')).toEqual({ hours: 7, minutes: 15 });
    for (const bad of ['24:00', '10:60', '13:00 PM', '22', 'noon', '']) expect(parseTimeField(bad), bad).toBeNull();
  });
});

describe('job time bounds', () => {
  it('a bound names its whole minute, second or day', () => {
    const at = Date.parse('2026-12-01T21:49:00Z');
    expect(endOfBound('2026-12-01T21:49Z') - at).toBe(60_000);
    expect(endOfBound('2026-12-01T21:49:00Z') - at).toBe(1000);
    expect(endOfBound('2026-12-01T21:49:00.000Z') - at).toBe(1);
    expect(endOfBound('2026-12-01') - Date.parse('2026-12-01')).toBe(86_400_000);
  });

  it('"To 21:49" includes a job created at 21:49:40 and excludes 21:50', () => {
    expect(withinBounds('2026-12-01T21:49:40.123Z', undefined, '2026-12-01T21:49Z')).toBe(true);
    expect(withinBounds('2026-12-01T21:50:00.000Z', undefined, '2026-12-01T21:49Z')).toBe(false);
    expect(withinBounds('2026-12-01T21:48:59.999Z', '2026-12-01T21:49Z')).toBe(false);
    expect(boundsInOrder('2026-12-01T21:49Z', '2026-12-01T21:49Z')).toBe(true);
    expect(boundsInOrder('2026-12-01T21:50Z', '2026-12-01T21:49Z')).toBe(false);
  });

  it('the contract refuses From after To and years nobody means, for the console and the CLI alike', () => {
    expect(JobQuery.safeParse({ from: '2026-12-02', to: '2026-12-01' }).success).toBe(false);
    expect(JobQuery.safeParse({ from: '2026-12-01T10:00Z', to: '2026-12-01T10:00Z' }).success).toBe(true);
    expect(JobQuery.safeParse({ from: '+202609-09-01T10:00:00Z' }).success).toBe(false);
    expect(JobQuery.safeParse({ to: '2026-12-01' }).success).toBe(true);
  });

  it('the filter bar asks for minute bounds and says what is wrong, in en and nl', () => {
    const local = localDateTime(new Date(2026, 11, 1, 21, 49));
    expect(local).toBe('2026-12-01T21:49');
    expect(minuteBound(local)).toBe(`${new Date(2026, 11, 1, 21, 49).toISOString().slice(0, 16)}Z`);
    expect(rangeQuery({ from: '', to: local })).toEqual({ to: minuteBound(local) });
    const en = (k: Parameters<typeof translate>[1]) => translate('en', k);
    const nl = (k: Parameters<typeof translate>[1]) => translate('nl', k);
    const reversed = { from: '2026-12-02T00:00', to: '2026-12-01T23:59' };
    expect(rangeProblems(en, reversed)).toEqual({ to: 'From must not be after To.' });
    expect(rangeProblems(nl, reversed)).toEqual({ to: 'Van mag niet na Tot liggen.' });
    expect(rangeQuery(reversed)).toEqual({});
    expect(rangeProblems(en, { from: '202609-09-01T10:00', to: '' }).from).toMatch(/1970 to 9999/);
    expect(rangeQuery({ from: '202609-09-01T10:00', to: '' })).toEqual({});
  });
});
