// The Protect wizard (W9..W12): step 1 picks registered, unprotected VMs; step 2 picks an
// existing policy (its retention shown read-only) or defines a new one.
import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Dropdown,
  Field,
  MessageBar,
  MessageBarBody,
  Option,
  Radio,
  RadioGroup,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useMemo, useState, type ReactElement } from 'react';
import type { Policy, Vm } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { PolicyForm, PolicySummary, defaultDraft, validateDraft, type PolicyDraft } from '../policies/policyForm.js';
import { ActionButton } from '../shell/ActionButton.js';
import { useTrackJobs } from '../shell/notify.js';
import { ErrorBar } from '../shell/Page.js';
import { VmPickTable } from './VmPickTable.js';
import { vmNames } from './VmName.js';

const useStyles = makeStyles({
  surface: { maxWidth: '900px', width: '100%' },
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, minHeight: '360px' },
  steps: { display: 'flex', gap: tokens.spacingHorizontalL, margin: 0, padding: 0, listStyleType: 'none' },
  step: { color: tokens.colorNeutralForeground3 },
  current: { color: tokens.colorBrandForeground1, fontWeight: tokens.fontWeightSemibold },
  readOnly: {
    padding: tokens.spacingHorizontalM,
    borderRadius: tokens.borderRadiusMedium,
    backgroundColor: tokens.colorNeutralBackground3,
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalS,
  },
});

export function ProtectWizard({
  vault,
  vms,
  policies,
  open,
  onClose,
}: {
  vault: string;
  vms: Vm[];
  policies: Policy[];
  open: boolean;
  onClose: () => void;
}): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const trackJobs = useTrackJobs();
  const [step, setStep] = useState<1 | 2>(1);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [mode, setMode] = useState<'existing' | 'new'>('existing');
  const [policyName, setPolicyName] = useState<string>('');
  const [draft, setDraft] = useState<PolicyDraft>(defaultDraft);
  const [showErrors, setShowErrors] = useState(false);
  const action = useAction();
  const candidates = useMemo(() => vms.filter((v) => v.registrationState === 'Registered' && !v.protectionState), [vms]);
  const chosenPolicy = policies.find((p) => p.name === (policyName || policies[0]?.name));
  const validation = validateDraft(t, draft, true);

  const reset = () => {
    setStep(1);
    setSelected(new Set());
    setMode('existing');
    setPolicyName('');
    setDraft(defaultDraft);
    setShowErrors(false);
    action.clearError();
  };
  const close = () => {
    if (action.busy) return;
    reset();
    onClose();
  };

  const submit = async () => {
    action.clearError();
    const spec = validation.spec;
    if (mode === 'new') {
      setShowErrors(true);
      if (!spec) return;
    }
    const jobs = await action.run(() => {
      const vmIds = [...selected];
      return mode === 'new' && spec
        ? call('protectVms', { vault, vms: vmIds, newPolicy: { name: draft.name.trim(), spec } })
        : call('protectVms', { vault, vms: vmIds, policy: chosenPolicy?.name ?? '' });
    });
    if (!jobs) return;
    trackJobs(jobs);
    reset();
    onClose();
  };

  return (
    <Dialog open={open} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <DialogBody>
          <DialogTitle>{t('protect.title')}</DialogTitle>
          <DialogContent className={styles.content}>
            <ol className={styles.steps} aria-label={t('protect.steps')}>
              <li className={step === 1 ? styles.current : styles.step} aria-current={step === 1 ? 'step' : undefined}>
                {t('protect.step1')}
              </li>
              <li className={step === 2 ? styles.current : styles.step} aria-current={step === 2 ? 'step' : undefined}>
                {t('protect.step2')}
              </li>
            </ol>
            {step === 1 && (
              <>
                <Text>{t('protect.step1Intro')}</Text>
                {candidates.length === 0 ? (
                  <MessageBar intent="info">
                    <MessageBarBody>{t('protect.noCandidates')}</MessageBarBody>
                  </MessageBar>
                ) : (
                  <VmPickTable label={t('protect.vmsLabel')} vms={candidates} selected={selected} onChange={setSelected} />
                )}
              </>
            )}
            {step === 2 && (
              <>
                <Text>{t('protect.chosen', { names: vmNames(candidates.filter((v) => selected.has(v.id)), vms) })}</Text>
                <RadioGroup value={mode} onChange={(_, d) => setMode(d.value as 'existing' | 'new')} layout="horizontal" aria-label={t('protect.policyChoice')}>
                  <Radio value="existing" label={t('protect.existing')} />
                  <Radio value="new" label={t('protect.new')} />
                </RadioGroup>
                {mode === 'existing' && (
                  <>
                    <Field label={t('protect.policy')}>
                      <Dropdown
                        value={chosenPolicy?.name ?? ''}
                        selectedOptions={chosenPolicy ? [chosenPolicy.name] : []}
                        onOptionSelect={(_, d) => d.optionValue && setPolicyName(d.optionValue)}
                      >
                        {policies.map((p) => (
                          <Option key={p.id} value={p.name}>
                            {p.name}
                          </Option>
                        ))}
                      </Dropdown>
                    </Field>
                    {chosenPolicy && (
                      <section className={styles.readOnly} aria-label={t('protect.readOnly')}>
                        <Text size={200}>{t('protect.readOnly')}</Text>
                        <PolicySummary spec={chosenPolicy} />
                      </section>
                    )}
                  </>
                )}
                {mode === 'new' && (
                  <PolicyForm draft={draft} onChange={setDraft} errors={validation.errors} submitted={showErrors} withName idPrefix="wizard" />
                )}
              </>
            )}
            {action.error && <ErrorBar error={action.error} />}
          </DialogContent>
          <DialogActions>
            <Text aria-live="polite">{t('register.selected', { count: selected.size })}</Text>
            <Button appearance="secondary" onClick={close} disabled={action.busy}>
              {t('common.cancel')}
            </Button>
            {step === 2 && (
              <Button onClick={() => setStep(1)} disabled={action.busy}>
                {t('common.back')}
              </Button>
            )}
            {step === 1 ? (
              <Button appearance="primary" onClick={() => setStep(2)} disabled={selected.size === 0}>
                {t('common.next')}
              </Button>
            ) : (
              <ActionButton action={action} appearance="primary" onClick={() => void submit()}>
                {t('protect.submit')}
              </ActionButton>
            )}
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
