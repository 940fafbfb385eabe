// Shared building blocks of the pages: the panel look, the empty state, the vault picker.
import { Dropdown, Field, Option, SpinButton, Text, Title3, makeStyles, tokens } from '@fluentui/react-components';
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore, type ReactElement, type ReactNode } from 'react';
import { numberFromText, type VaultSummary } from '../../../preload/contract.js';
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

// ---- Forms: when a field shows its error, and the one number field.

/**
 * When each field of a form shows its error, the same in every dialog: once the admin changed the
 * field and left it, or pressed the form's submit. A dialog that opens shows no error (a focus
 * moved by the dialog itself is no edit), and engine errors placed by `placeError` show at once.
 */
export interface FieldVisibility<F extends string> {
  /** The field's value was changed by the admin. */
  edit(field: F): void;
  /** The blur handler of a field: an edited field shows its error from now on. */
  blur(field: F): () => void;
  /** Submit was pressed: every field shows its error. */
  submit(): void;
  /** Back to a fresh form (nothing shown). */
  reset(): void;
  submitted: boolean;
  /** `error` when the field may show it, else undefined. */
  show<E>(field: F, error: E | undefined): E | undefined;
}

export function useFieldVisibility<F extends string>(): FieldVisibility<F> {
  const [edited, setEdited] = useState<ReadonlySet<F>>(() => new Set());
  const [left, setLeft] = useState<ReadonlySet<F>>(() => new Set());
  const [submitted, setSubmitted] = useState(false);
  const edit = useCallback((field: F) => setEdited((s) => (s.has(field) ? s : new Set([...s, field]))), []);
  const blur = useCallback((field: F) => () => setLeft((s) => (s.has(field) ? s : new Set([...s, field]))), []);
  const submit = useCallback(() => setSubmitted(true), []);
  const reset = useCallback(() => {
    setEdited(new Set());
    setLeft(new Set());
    setSubmitted(false);
  }, []);
  return useMemo(
    () => ({
      edit,
      blur,
      submit,
      reset,
      submitted,
      show: <E,>(field: F, error: E | undefined) => (submitted || (edited.has(field) && left.has(field)) ? error : undefined),
    }),
    [edit, blur, submit, reset, submitted, edited, left],
  );
}

/**
 * The console's number field (a spin button). What the admin typed is kept and handed on as the
 * number it says (`numberFromText`: 2.5 stays 2.5, text that is no number is NaN), never rounded
 * or clamped, so the contract's schema refuses it beside the field instead of saving another value.
 */
export function NumberInput({
  value,
  onValue,
  onBlur,
  min,
  max,
  className,
  id,
}: {
  value: number;
  onValue: (n: number) => void;
  onBlur?: () => void;
  min?: number;
  max?: number;
  className?: string;
  id?: string;
}): ReactElement {
  const [typed, setTyped] = useState<string>();
  // Shown as typed while it still says the current value (a reset or a spin shows the value itself).
  const shownText = typed !== undefined && Object.is(numberFromText(typed), value) ? typed : undefined;
  return (
    <SpinButton
      id={id}
      className={className}
      min={min}
      max={max}
      value={Number.isFinite(value) ? value : null}
      displayValue={shownText ?? (Number.isFinite(value) ? undefined : (typed ?? ''))}
      onBlur={onBlur}
      onChange={(_, d) => {
        if (typeof d.value === 'number') {
          setTyped(undefined);
          onValue(d.value);
        } else if (d.displayValue !== undefined) {
          setTyped(d.displayValue);
          onValue(numberFromText(d.displayValue));
        }
      }}
    />
  );
}
