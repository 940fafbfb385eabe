import * as fs from 'node:fs';
import path from 'node:path';
import { safeStorage } from 'electron';
import type { SecretStore } from '../core/vaults.js';
import { keychainVerdict } from './keychain.js';

/**
 * Passphrases a user chose to remember, encrypted with the OS keychain (safeStorage) into one
 * file of the desktop profile. Never in the catalog, never in clear; no real keychain (including
 * Linux's fixed-key `basic_text` fallback) = no remembering: `engineInfo.keepsSecrets` is false and
 * the console offers a key file instead.
 */
export function safeStorageSecrets(userDataDir: string): SecretStore | undefined {
  const verdict = keychainVerdict(
    process.platform,
    safeStorage.isEncryptionAvailable(),
    process.platform === 'linux' ? safeStorage.getSelectedStorageBackend() : undefined,
  );
  if (!verdict.usable) {
    // The console then offers a key file instead of "remember" (engineInfo.keepsSecrets is false).
    console.warn(`Coffer: passphrases cannot be remembered on this computer: ${verdict.reason}.`);
    return undefined;
  }
  const file = path.join(userDataDir, 'remembered-vaults.json');
  const read = (): Record<string, string> => {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  };
  const write = (all: Record<string, string>): void => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(all), { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  };
  return {
    save(vaultId, passphrase) {
      write({ ...read(), [vaultId]: safeStorage.encryptString(passphrase).toString('base64') });
    },
    load(vaultId) {
      const blob = read()[vaultId];
      if (!blob) return undefined;
      try {
        return safeStorage.decryptString(Buffer.from(blob, 'base64'));
      } catch {
        return undefined;
      }
    },
    forget(vaultId) {
      const all = read();
      if (!(vaultId in all)) return;
      delete all[vaultId];
      write(all);
    },
  };
}
