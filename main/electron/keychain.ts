// Whether the desktop app may offer "remember on this computer": a pure decision, tested in Node.

export type LinuxBackend = 'basic_text' | 'gnome_libsecret' | 'kwallet' | 'kwallet5' | 'kwallet6' | 'unknown';

export type KeychainVerdict = { usable: true } | { usable: false; reason: string };

/**
 * safeStorage says "available" on Linux even without a keyring: it then encrypts with a fixed,
 * public key (`basic_text`), which protects nothing. Only a real keychain counts; otherwise the
 * app does not remember passphrases: an unlock asking to still unlocks, and the console offers a key file.
 */
export function keychainVerdict(platform: NodeJS.Platform, encryptionAvailable: boolean, linuxBackend?: LinuxBackend): KeychainVerdict {
  if (!encryptionAvailable) return { usable: false, reason: 'the operating system offers no keychain to this app' };
  if (platform === 'linux' && linuxBackend !== 'gnome_libsecret' && linuxBackend !== 'kwallet' && linuxBackend !== 'kwallet5' && linuxBackend !== 'kwallet6') {
    return {
      usable: false,
      reason: `no keyring answers (safeStorage backend ${linuxBackend ?? 'unknown'}): it would encrypt with a fixed key anyone can read`,
    };
  }
  return { usable: true };
}
