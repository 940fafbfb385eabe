// The passphrase rule of a new vault (the contract's, used by the engine, the CLI and the Create
// vault dialog): at least 8 characters always; a weak one (shorter than 12, or little variety)
// only with "I understand the risk".
import { describe, expect, it } from 'vitest';
import { isWeakPassphrase, passphraseStrength } from '../../preload/contract.js';
import { en } from '../../renderer/src/i18n/en.js';
import { emptyValues, validateField, weakPassphraseArgs, type VaultValues } from '../../renderer/src/vaults/validation.js';

const values = (passphrase: string, acceptWeak = false): VaultValues => ({ ...emptyValues, passphrase, confirm: passphrase, acceptWeak });

describe('the passphrase rule', () => {
  it('calls `password` and every passphrase under 12 characters weak, however varied', () => {
    expect(isWeakPassphrase('password')).toBe(true);
    expect(isWeakPassphrase('P@ssw0rd!x1')).toBe(true);
    expect(passphraseStrength('P@ssw0rd!x1')).toBe(1);
  });

  it('calls a long repetitive one weak, and a phrase of unrelated words not', () => {
    expect(isWeakPassphrase('aaaaaaaaaaaaaaaa')).toBe(true);
    expect(isWeakPassphrase('correct horse battery')).toBe(false);
    expect(passphraseStrength('correct horse battery staple')).toBeGreaterThanOrEqual(3);
  });
});

describe('the Create vault dialog applies it', () => {
  it('refuses `password` until the risk is accepted, then sends the flag', () => {
    expect(validateField('passphrase', values('password'), 'create')).toEqual({ key: 'validation.passphrase.weak' });
    expect(en['validation.passphrase.weak']).toContain('12 characters');
    expect(weakPassphraseArgs(values('password'))).toEqual({});
    expect(validateField('passphrase', values('password', true), 'create')).toBeUndefined();
    expect(weakPassphraseArgs(values('password', true))).toEqual({ weakPassphraseOk: true });
  });

  it('refuses what is too short whatever the admin accepts, and asks nothing of a strong one', () => {
    expect(validateField('passphrase', values('short', true), 'create')).toEqual({ key: 'validation.passphrase.tooShort' });
    expect(validateField('passphrase', values('correct horse battery'), 'create')).toBeUndefined();
    expect(weakPassphraseArgs(values('correct horse battery', true))).toEqual({});
  });

  it('connecting an existing vault only needs a passphrase typed', () => {
    expect(validateField('passphrase', values('password'), 'connect')).toBeUndefined();
  });
});
