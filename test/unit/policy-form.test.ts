// The policy form's inline messages: the contract's PolicySpec decides what is wrong, and each of
// its issues becomes the English message a user reads beside the field.
import { describe, expect, it } from 'vitest';
import { en } from '../../renderer/src/i18n/en.js';
import { translate } from '../../renderer/src/i18n/index.js';
import { numberFromText } from '../../preload/contract.js';
import { defaultDraft, validateDraft, type PolicyDraft } from '../../renderer/src/policies/policyForm.js';

const t = (key: Parameters<typeof translate>[1], vars?: Parameters<typeof translate>[2]) => translate('en', key, vars);
const errorsOf = (patch: Partial<PolicyDraft>, withName = false) => validateDraft(t, { ...defaultDraft, ...patch }, withName).errors;

describe('policy form validation', () => {
  it('accepts the default draft and returns the spec to send', () => {
    const r = validateDraft(t, { ...defaultDraft, name: 'Gold' }, true);
    expect(r.errors).toEqual({});
    expect(r.spec).toEqual({ schedule: { kind: 'daily', times: ['22:00'] }, retention: { dailyDays: 30 } });
  });

  it('names the policy-name rule', () => {
    expect(errorsOf({ name: 'x' }, true).name).toBe(en['policy.err.name']);
  });

  it('tells no time, a repeated time and a malformed time apart', () => {
    expect(errorsOf({ times: [] })['schedule.times']).toBe(en['policy.err.timesMin']);
    expect(errorsOf({ times: ['22:00', '22:00'] })['schedule.times']).toBe(en['policy.err.timesDup']);
    expect(errorsOf({ times: ['25:00'] })['schedule.times']).toBe(en['policy.err.time']);
  });

  it('a day-of-month rule needs a daily schedule; a weekday rule needs that weekday scheduled', () => {
    const weekly = { kind: 'weekly' as const, weekdays: ['SUN' as const], daily: { on: false, days: 30 } };
    expect(errorsOf({ ...weekly, monthly: { on: true, rule: 'day-3', months: 12 } })['retention.monthly.rule']).toBe(en['policy.err.dayRuleNeedsDaily']);
    expect(errorsOf({ ...weekly, yearly: { on: true, month: 'JAN', rule: 'last-day', years: 5 } })['retention.yearly.rule']).toBe(en['policy.err.dayRuleNeedsDaily']);
    expect(errorsOf({ ...weekly, monthly: { on: true, rule: 'first-MON', months: 12 } })['retention.monthly.rule']).toBe(en['policy.err.ruleNotScheduled']);
    expect(validateDraft(t, { ...defaultDraft, ...weekly, monthly: { on: true, rule: 'last-SUN', months: 12 } }, false).spec).toBeDefined();
  });

  it('a daily schedule without the daily tier says so', () => {
    expect(errorsOf({ daily: { on: false, days: 30 }, weekly: { on: true, weekday: 'SUN', weeks: 4 } })['retention.dailyDays']).toBe(en['policy.err.dailyRequired']);
  });

  it('refuses 2.5 years as not whole, never saving it as 3', () => {
    const r = validateDraft(t, { ...defaultDraft, yearly: { on: true, month: 'JAN', rule: 'first-SUN', years: numberFromText('2.5') } }, false);
    expect(r.errors['retention.yearly.years']).toBe('Use a whole number from 1 to 99.');
    expect(r.spec).toBeUndefined();
  });

  it('refuses a cleared or non-numeric count the same way, in the field of its tier', () => {
    expect(errorsOf({ daily: { on: true, days: numberFromText('') } })['retention.dailyDays']).toBe('Use a whole number from 1 to 9999.');
    expect(errorsOf({ weekly: { on: true, weekday: 'SUN', weeks: numberFromText('-4') } })['retention.weekly.weeks']).toBe('Use a whole number from 1 to 5163.');
    expect(errorsOf({ monthly: { on: true, rule: 'last-SUN', months: numberFromText('1e3') } })['retention.monthly.months']).toBe('Use a whole number from 1 to 1188.');
  });
});

describe('numberFromText (the console and the CLI read counts alike)', () => {
  it('keeps what was typed: decimals stay decimals (a Dutch comma too), words are no number', () => {
    expect(numberFromText(' 30 ')).toBe(30);
    expect(numberFromText('2.5')).toBe(2.5);
    expect(numberFromText('2,5')).toBe(2.5);
    expect(numberFromText('')).toBeNaN();
    expect(numberFromText('thirty')).toBeNaN();
    expect(numberFromText('-1')).toBeNaN();
  });
});
