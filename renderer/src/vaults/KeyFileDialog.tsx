// "Unlock at start" from the console: points the engine to a key file on the host (the rules of
// which file is accepted live in main/core/key-file.ts), and tests it with a real unlock before it
// is kept. The engine's refusal (readable by others, unreadable, wrong passphrase) shows at the field.
import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  Spinner,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import { AbsolutePath, type ApiError, type VaultSummary } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useT, type I18n } from '../i18n/index.js';
import { ErrorBar } from '../shell/Page.js';
import { unlocksAtStartLabel } from './unlocksAtStart.js';

const useStyles = makeStyles({
  surface: { maxWidth: '600px', width: '100%' },
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  muted: { color: tokens.colorNeutralForeground2 },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200, overflowWrap: 'anywhere' },
});

/** The engine errors that are about the file the admin typed, in the console's words. */
function fieldMessage(t: I18n['t'], error: ApiError, name: string): string | undefined {
  const d = (error.details ?? {}) as { mode?: unknown; command?: unknown };
  switch (error.code) {
    case 'KeyFileNotPrivate':
      return t('vaults.keyFileDialog.err.notPrivate', { mode: String(d.mode ?? ''), command: String(d.command ?? '') });
    case 'KeyFileUnreadable':
      return t('vaults.keyFileDialog.err.unreadable');
    case 'WrongPassphrase':
      return t('vaults.keyFileDialog.err.wrong');
    case 'InvalidArgument':
      return t('vaults.keyFileDialog.err.absolute', { name });
    default:
      return undefined;
  }
}

export function KeyFileDialog({ vault, onClose, onChanged }: { vault: VaultSummary | undefined; onClose: () => void; onChanged: (v: VaultSummary, removed: boolean) => void }): ReactElement {
  const t = useT();
  const styles = useStyles();
  const action = useAction();
  const current = vault?.unlocksAtStart;
  const [file, setFile] = useState<string>();
  const [touched, setTouched] = useState(false);
  const [done, setDone] = useState<VaultSummary>();
  const name = vault?.name ?? '';
  const value = file ?? (current?.via === 'keyFile' ? current.keyFile : '');
  const localError = touched && !AbsolutePath.safeParse(value).success ? t('vaults.keyFileDialog.err.absolute', { name }) : undefined;
  const engineField = action.error ? fieldMessage(t, action.error, name) : undefined;
  const message = localError ?? engineField;

  const reset = () => {
    setFile(undefined);
    setTouched(false);
    setDone(undefined);
    action.clearError();
  };
  const close = () => {
    if (action.busy) return;
    reset();
    onClose();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setTouched(true);
    if (!vault || !AbsolutePath.safeParse(value).success) return;
    const v = await action.run(() => call('setVaultKeyFile', { name: vault.name, keyFile: value }));
    if (!v) return;
    setDone(v);
    onChanged(v, false);
  };
  const remove = async () => {
    if (!vault) return;
    const v = await action.run(() => call('setVaultKeyFile', { name: vault.name, keyFile: null }));
    if (!v) return;
    reset();
    onChanged(v, true);
  };

  return (
    <Dialog open={vault !== undefined} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        {done && done.unlocksAtStart.via === 'keyFile' ? (
          <DialogBody>
            <DialogTitle>{t('vaults.keyFileDialog.title', { name })}</DialogTitle>
            <DialogContent className={styles.content}>
              <MessageBar intent="success" layout="multiline">
                <MessageBarBody>{t('vaults.keyFileDialog.done', { name: done.name, path: done.unlocksAtStart.keyFile })}</MessageBarBody>
              </MessageBar>
            </DialogContent>
            <DialogActions>
              <Button appearance="primary" onClick={close}>
                {t('common.close')}
              </Button>
            </DialogActions>
          </DialogBody>
        ) : (
          <form onSubmit={submit} noValidate>
            <DialogBody>
              <DialogTitle>{t('vaults.keyFileDialog.title', { name })}</DialogTitle>
              <DialogContent className={styles.content}>
                <Text>{t('vaults.keyFileDialog.intro')}</Text>
                <Text className={styles.muted}>{t('vaults.keyFileDialog.howTo')}</Text>
                {current && <Text weight="semibold">{t('vaults.keyFileDialog.now', { how: unlocksAtStartLabel(t, current) })}</Text>}
                <Field
                  label={t('vaults.keyFileDialog.path')}
                  required
                  hint={t('vaults.keyFileDialog.pathHint', { name })}
                  validationState={message ? 'error' : 'none'}
                  validationMessage={message}
                >
                  <Input
                    className={styles.mono}
                    value={value}
                    onChange={(_, d) => {
                      setFile(d.value);
                      action.clearError();
                    }}
                    onBlur={() => setTouched(true)}
                    autoComplete="off"
                    spellCheck={false}
                    autoFocus
                  />
                </Field>
                {action.error && !engineField && <ErrorBar error={action.error} />}
              </DialogContent>
              <DialogActions>
                <Button appearance="secondary" onClick={close} disabled={action.busy}>
                  {t('common.cancel')}
                </Button>
                {current?.via === 'keyFile' && (
                  <Button appearance="secondary" onClick={() => void remove()} disabled={action.busy}>
                    {t('vaults.keyFileDialog.remove')}
                  </Button>
                )}
                <Button appearance="primary" type="submit" disabled={action.busy} icon={action.busy ? <Spinner size="tiny" /> : undefined}>
                  {action.busy ? t('vaults.keyFileDialog.submitting') : t('vaults.keyFileDialog.submit')}
                </Button>
              </DialogActions>
            </DialogBody>
          </form>
        )}
      </DialogSurface>
    </Dialog>
  );
}
