// The Create / Edit policy dialog: the policy form, validated by the contract's PolicySpec.
import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Text, makeStyles } from '@fluentui/react-components';
import { useState, type ReactElement } from 'react';
import type { Policy } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { ActionButton } from '../shell/ActionButton.js';
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
  const action = useAction();
  const validation = validateDraft(t, draft, !editing);
  const save = async () => {
    setShowErrors(true);
    action.clearError();
    const spec = validation.spec;
    if (!spec) return;
    await action.run(async () => {
      const p = editing ? await call('editPolicy', { vault, name: editing.name, spec }) : await call('createPolicy', { vault, name: draft.name.trim(), spec });
      onSaved(p, !editing);
    });
  };
  return (
    <Dialog open={open} onOpenChange={(_, d) => !d.open && !action.busy && onClose()}>
      <DialogSurface className={styles.surface}>
        <DialogBody>
          <DialogTitle>{editing ? t('policies.editTitle', { name: editing.name }) : t('policies.createTitle')}</DialogTitle>
          <DialogContent>
            <PolicyForm draft={draft} onChange={setDraft} errors={validation.errors} submitted={showErrors} withName={!editing} idPrefix="policy" />
            {editing && editing.vmCount > 0 && (
              <Text block style={{ marginTop: 12 }}>
                {t('policies.editAppliesTo', { count: editing.vmCount })}
              </Text>
            )}
            {action.error && <ErrorBar error={action.error} />}
          </DialogContent>
          <DialogActions>
            <Button appearance="secondary" onClick={onClose} disabled={action.busy}>
              {t('common.cancel')}
            </Button>
            <ActionButton action={action} appearance="primary" onClick={() => void save()}>
              {editing ? t('policies.save') : t('policies.create')}
            </ActionButton>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
