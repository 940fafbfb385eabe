// Shared building blocks of the pages: the panel look, the empty state, the vault picker.
import { Dropdown, Field, Option, Text, Title3, makeStyles, tokens } from '@fluentui/react-components';
import { useEffect, useState, useSyncExternalStore, type ReactElement, type ReactNode } from 'react';
import type { VaultSummary } from '../../../preload/contract.js';
import { useApi, type ApiState } from '../api.js';
import { useT } from '../i18n/index.js';

export const usePanelStyles = makeStyles({
  panel: {
    backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusLarge,
    boxShadow: tokens.shadow4,
    overflow: 'hidden',
  },
  padded: {
    backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusLarge,
    boxShadow: tokens.shadow4,
    padding: `${tokens.spacingVerticalL} ${tokens.spacingHorizontalL}`,
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
  },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200, overflowWrap: 'anywhere' },
  muted: { color: tokens.colorNeutralForeground2 },
  strong: { fontWeight: tokens.fontWeightSemibold },
  row: { display: 'flex', gap: tokens.spacingHorizontalS, alignItems: 'center', flexWrap: 'wrap' },
  visuallyHidden: {
    position: 'absolute',
    width: '1px',
    height: '1px',
    margin: '-1px',
    padding: 0,
    overflow: 'hidden',
    clip: 'rect(0 0 0 0)',
    whiteSpace: 'nowrap',
    border: 0,
  },
  empty: {
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'center',
    textAlign: 'center',
    gap: tokens.spacingVerticalM,
    padding: `${tokens.spacingVerticalXXL} ${tokens.spacingHorizontalXXL}`,
    backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusLarge,
    boxShadow: tokens.shadow4,
  },
  emptyIcon: { color: tokens.colorBrandForeground1, fontSize: '48px' },
  emptyBody: { color: tokens.colorNeutralForeground2, maxWidth: '52ch' },
});

export function EmptyState({ icon, title, body, action }: { icon: ReactElement; title: string; body?: string; action?: ReactNode }): ReactElement {
  const styles = usePanelStyles();
  return (
    <div className={styles.empty}>
      <span className={styles.emptyIcon} aria-hidden>
        {icon}
      </span>
      <Title3 as="h2">{title}</Title3>
      {body && (
        <Text align="center" className={styles.emptyBody}>
          {body}
        </Text>
      )}
      {action}
    </div>
  );
}

const VAULT_KEY = 'coffer.vault';

/** The current vault of every page: the one last picked, created or connected (kept in this browser). */
let currentVault: string | null = (() => {
  try {
    return localStorage.getItem(VAULT_KEY);
  } catch {
    return null;
  }
})();
const vaultListeners = new Set<() => void>();

/** Makes `name` the vault every page shows, now and after a reload: a pick, a create, a connect. */
export function rememberVault(name: string): void {
  if (currentVault === name) return;
  currentVault = name;
  try {
    localStorage.setItem(VAULT_KEY, name);
  } catch {
    // kept for this page only
  }
  for (const l of [...vaultListeners]) l();
}

function subscribeVault(listener: () => void): () => void {
  vaultListeners.add(listener);
  // Another tab of the console picked a vault: follow it.
  const onStorage = (e: StorageEvent) => {
    if (e.key !== VAULT_KEY || e.newValue === null) return;
    currentVault = e.newValue;
    listener();
  };
  window.addEventListener('storage', onStorage);
  return () => {
    vaultListeners.delete(listener);
    window.removeEventListener('storage', onStorage);
  };
}

export interface VaultChoice {
  vaults: ApiState<VaultSummary[]>;
  /** The chosen vault's name; undefined while loading or when there are no vaults. */
  vault: string | undefined;
  setVault(name: string): void;
}

/**
 * The vault a per-vault page shows: the current one (last picked, created or connected, shared by
 * all pages), else the most recently created. `initial` (a deep link's ?vault=) becomes the current one.
 */
export function useVaultChoice(initial?: string | null): VaultChoice {
  const vaults = useApi('listVaults', {}, { refreshOn: ['vaultsChanged'] });
  const current = useSyncExternalStore(subscribeVault, () => currentVault);
  // Until the effect below has made it current, the deep link wins on this page.
  const [linked, setLinked] = useState(initial ?? null);
  useEffect(() => {
    if (initial) rememberVault(initial);
    setLinked(null);
  }, [initial]);
  const list = vaults.data;
  const vault = list ? (pickVault(list, linked ?? current) ?? newest(list)?.name) : undefined;
  return { vaults, vault, setVault: rememberVault };
}

function pickVault(list: VaultSummary[], name: string | null): string | undefined {
  if (!name) return undefined;
  const lower = name.toLowerCase();
  return list.find((v) => v.name.toLowerCase() === lower)?.name;
}

function newest(list: VaultSummary[]): VaultSummary | undefined {
  return list.reduce<VaultSummary | undefined>((a, v) => (!a || v.created > a.created ? v : a), undefined);
}

export function VaultPicker({ choice }: { choice: VaultChoice }): ReactElement | null {
  const t = useT();
  const list = choice.vaults.data ?? [];
  const current = list.find((v) => v.name === choice.vault);
  return (
    <Field label={t('vaultPicker.label')} style={{ maxWidth: '360px' }}>
      <Dropdown
        style={{ minWidth: '240px' }}
        value={current ? `${current.name} (${current.region})` : ''}
        selectedOptions={current ? [current.name] : []}
        onOptionSelect={(_, data) => data.optionValue && choice.setVault(data.optionValue)}
        placeholder={t('vaultPicker.none')}
        disabled={list.length === 0}
      >
        {list.map((v) => (
          <Option key={v.id} value={v.name} text={`${v.name} (${v.region})`}>
            {`${v.name} (${v.region})`}
          </Option>
        ))}
      </Dropdown>
    </Field>
  );
}
