// A rough passphrase strength hint (0..4) from length and variety; a hint, not a guarantee.
export type Strength = 0 | 1 | 2 | 3 | 4;

export function passphraseStrength(p: string): Strength {
  if (p.length < 8) return 0;
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
