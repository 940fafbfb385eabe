// How a vault unlocks when the host starts (the engine's `unlocksAtStart`), in the console's words.
import { makeStyles, tokens } from '@fluentui/react-components';
import { Key16Regular, KeyMultiple16Regular, Warning16Filled } from '@fluentui/react-icons';
import type { ReactElement } from 'react';
import type { UnlockAtStart } from '../../../preload/contract.js';
import { useT, type I18n } from '../i18n/index.js';

const useStyles = makeStyles({
  cell: { display: 'inline-flex', alignItems: 'flex-start', gap: tokens.spacingHorizontalXS, minWidth: 0 },
  icon: { flexShrink: 0, marginTop: '2px' },
  ok: { color: tokens.colorPaletteGreenForeground1 },
  warn: { color: tokens.colorPaletteDarkOrangeForeground1 },
  muted: { color: tokens.colorNeutralForeground3 },
  text: { overflowWrap: 'anywhere' },
});

export function unlocksAtStartLabel(t: I18n['t'], u: UnlockAtStart): string {
  switch (u.via) {
    case 'keychain':
      return t('vaults.unlocksAtStart.keychain');
    case 'keyFile':
      return t('vaults.unlocksAtStart.keyFile', { path: u.keyFile });
    case 'none':
      return t('vaults.unlocksAtStart.none');
  }
}

/** The "Unlocks at start" cell: a warning icon when scheduled backups of the vault would fail after a restart. */
export function UnlocksAtStart({ how, scheduledCount }: { how: UnlockAtStart; scheduledCount: number }): ReactElement {
  const t = useT();
  const styles = useStyles();
  const label = unlocksAtStartLabel(t, how);
  const icon =
    how.via === 'none' ? (
      <Warning16Filled className={`${styles.icon} ${scheduledCount > 0 ? styles.warn : styles.muted}`} aria-hidden />
    ) : how.via === 'keychain' ? (
      <KeyMultiple16Regular className={`${styles.icon} ${styles.ok}`} aria-hidden />
    ) : (
      <Key16Regular className={`${styles.icon} ${styles.ok}`} aria-hidden />
    );
  return (
    <span className={styles.cell}>
      {icon}
      <span className={styles.text}>{label}</span>
    </span>
  );
}
