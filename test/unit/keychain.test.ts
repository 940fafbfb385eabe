import { describe, expect, it } from 'vitest';
import { keychainVerdict } from '../../main/electron/keychain.js';

describe('"remember on this computer" needs a real keychain', () => {
  it('refuses Linux basic_text: safeStorage would encrypt with a fixed key', () => {
    const v = keychainVerdict('linux', true, 'basic_text');
    expect(v.usable).toBe(false);
    expect(!v.usable && v.reason).toContain('fixed key');
    expect(keychainVerdict('linux', true, 'unknown').usable).toBe(false);
    expect(keychainVerdict('linux', true).usable).toBe(false);
  });

  it('accepts a Linux keyring, the macOS Keychain and Windows DPAPI', () => {
    for (const backend of ['gnome_libsecret', 'kwallet', 'kwallet5', 'kwallet6'] as const) expect(keychainVerdict('linux', true, backend)).toEqual({ usable: true });
    expect(keychainVerdict('darwin', true)).toEqual({ usable: true });
    expect(keychainVerdict('win32', true)).toEqual({ usable: true });
  });

  it('refuses wherever encryption is unavailable', () => {
    for (const platform of ['linux', 'darwin', 'win32'] as const) expect(keychainVerdict(platform, false, 'gnome_libsecret').usable).toBe(false);
  });
});
