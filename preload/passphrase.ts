// The passphrase rule of a new vault, one home for the engine, the CLI and the console: at least
// PASSPHRASE_MIN characters always (the contract's Passphrase schema), and a weak one (shorter than
// PASSPHRASE_GOOD_LENGTH, or little variety) only with the admin's explicit "I understand the
// risk" (`weakPassphraseOk`; the CLI's --weak-passphrase-ok). A lost passphrase means lost backups.

/** The hard floor: shorter passphrases are refused whatever the admin says. */
export const PASSPHRASE_MIN = 8;
/** From this length on a passphrase of some variety needs no acknowledgement. */
export const PASSPHRASE_GOOD_LENGTH = 12;

/** 0 too short, 1 weak, 2 fair, 3 good, 4 strong. A hint, not a guarantee. */
export type Strength = 0 | 1 | 2 | 3 | 4;

/** A rough estimate from length and variety; below PASSPHRASE_GOOD_LENGTH it is at most weak. */
export function passphraseStrength(p: string): Strength {
  if (p.length < PASSPHRASE_MIN) return 0;
  if (p.length < PASSPHRASE_GOOD_LENGTH) return 1;
  let pool = 0;
  if (/[a-z]/.test(p)) pool += 26;
  if (/[A-Z]/.test(p)) pool += 26;
  if (/[0-9]/.test(p)) pool += 10;
  if (/[^A-Za-z0-9]/.test(p)) pool += 33;
  // Repeats add little: count each distinct character once, the rest at a quarter.
  const distinct = new Set(p).size;
  const effective = distinct + (p.length - distinct) / 4;
  const bits = effective * Math.log2(Math.max(pool, 2));
  if (bits < 40) return 1;
  if (bits < 65) return 2;
  if (bits < 90) return 3;
  return 4;
}

/** A passphrase the admin must accept explicitly (`weakPassphraseOk`) before a vault is made with it. */
export function isWeakPassphrase(p: string): boolean {
  return passphraseStrength(p) <= 1;
}
