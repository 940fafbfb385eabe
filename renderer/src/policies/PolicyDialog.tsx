// The Create / Edit policy dialog: the policy form, validated by the contract's PolicySpec.
import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Spinner, Text, makeStyles } from '@fluentui/react-components';
import { useState, type ReactElement } from 'react';
import type { ApiError, Policy } from '../../../preload/contract.js';
import { call, toApiError } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { ErrorBar } from '../shell/Page.js';
import { PolicyForm, defaultDraft, draftFromSpec, validateDraft, type PolicyDraft } from './policyForm.js';

const useStyles = makeStyles({
  surface: { maxWidth: '820px', width: '100%' },
});

export function PolicyDialog({
  vault,
  editing,
  open,
  onClose,
  onSaved,
}: {
  vault: string;
  editing: Policy | undefined;
  open: boolean;
  onClose: () => void;
  onSaved: (p: Policy, created: boolean) => void;
}): ReactElement {
  const i18n = useI18n();
  const { t } = i18n;
  const styles = useStyles();
  const [draft, setDraft] = useState<PolicyDraft>(() => (editing ? draftFromSpec(editing.name, editing) : defaultDraft));
  const [showErrors, setShowErrors] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const validation = validateDraft(t, draft, !editing);
  const save = async () => {
    setShowErrors(true);
    setError(undefined);
    if (!validation.spec) return;
    setBusy(true);
    try {
      const p = editing
        ? await call('editPolicy', { vault, name: editing.name, spec: validation.spec })
        : await call('createPolicy', { vault, name: draft.name.trim(), spec: validation.spec });
      onSaved(p, !editing);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} onOpenChange={(_, d) => !d.open && !busy && onClose()}>
      <DialogSurface className={styles.surface}>
        <DialogBody>
          <DialogTitle>{editing ? t('policies.editTitle', { name: editing.name }) : t('policies.createTitle')}</DialogTitle>
          <DialogContent>
            <PolicyForm draft={draft} onChange={setDraft} errors={showErrors ? validation.errors : {}} withName={!editing} idPrefix="policy" />
            {editing && editing.vmCount > 0 && (
              <Text block style={{ marginTop: 12 }}>
                {t('policies.editAppliesTo', { count: editing.vmCount })}
              </Text>
            )}
            {error && <ErrorBar error={error} />}
          </DialogContent>
          <DialogActions>
            <Button appearance="secondary" onClick={onClose} disabled={busy}>
              {t('common.cancel')}
            </Button>
            <Button appearance="primary" onClick={() => void save()} disabled={busy} icon={busy ? <Spinner size="tiny" /> : undefined}>
              {editing ? t('policies.save') : t('policies.create')}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
