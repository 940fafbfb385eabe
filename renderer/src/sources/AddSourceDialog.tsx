// The Add source dialog: a folder or a libvirt connection with its region, validated inline by
// the contract's addSource schema.
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
  Radio,
  RadioGroup,
  Spinner,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import { methods, type Source } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useT, type MessageKey } from '../i18n/index.js';
import { FolderInput } from '../shell/FolderInput.js';
import { ErrorBar } from '../shell/Page.js';

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  surface: { maxWidth: '560px', width: '100%' },
});

type Kind = 'folder' | 'libvirt';
type SourceField = 'target' | 'region' | 'name' | 'cloudServiceLabel';
interface Values {
  kind: Kind;
  target: string;
  region: string;
  name: string;
  cloudServiceLabel: string;
}
const empty: Values = { kind: 'folder', target: '', region: '', name: '', cloudServiceLabel: '' };

function argsOf(v: Values) {
  return {
    kind: v.kind,
    target: v.target.trim(),
    region: v.region.trim(),
    ...(v.name.trim() ? { name: v.name.trim() } : {}),
    ...(v.cloudServiceLabel.trim() ? { cloudServiceLabel: v.cloudServiceLabel.trim() } : {}),
  };
}

/** Localized messages for the contract's addSource issues, keyed by field. */
function validate(v: Values): Partial<Record<SourceField, MessageKey>> {
  const r = methods.addSource.args.safeParse(argsOf(v));
  if (r.success) return {};
  const out: Partial<Record<SourceField, MessageKey>> = {};
  for (const issue of r.error.issues) {
    const field = issue.path[0];
    if (field === 'target') out.target = v.kind === 'folder' ? 'sources.err.folderPath' : 'sources.err.libvirtUri';
    else if (field === 'region') out.region = v.region.trim() === '' ? 'validation.region.required' : 'validation.region.format';
    else if (field === 'name') out.name = 'sources.err.name';
    else if (field === 'cloudServiceLabel') out.cloudServiceLabel = 'sources.err.label';
  }
  return out;
}

export function AddSourceDialog({ open, onClose, onAdded }: { open: boolean; onClose: () => void; onAdded: (s: Source) => void }): ReactElement {
  const t = useT();
  const styles = useStyles();
  const [values, setValues] = useState<Values>(empty);
  const [touched, setTouched] = useState<Partial<Record<SourceField, boolean>>>({});
  const action = useAction();
  const errors = validate(values);

  const close = () => {
    if (action.busy) return;
    setValues(empty);
    setTouched({});
    action.clearError();
    onClose();
  };
  const set = (field: keyof Values) => (_: unknown, data: { value: string }) => setValues((v) => ({ ...v, [field]: data.value }));
  const blur = (field: SourceField) => () => setTouched((s) => ({ ...s, [field]: true }));
  const msg = (field: SourceField) => (touched[field] && errors[field] ? t(errors[field]) : undefined);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setTouched({ target: true, region: true, name: true, cloudServiceLabel: true });
    if (Object.keys(errors).length > 0) return;
    await action.run(async () => {
      const source = await call('addSource', argsOf(values));
      setValues(empty);
      setTouched({});
      onAdded(source);
    });
  };

  return (
    <Dialog open={open} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('sources.add')}</DialogTitle>
            <DialogContent className={styles.form}>
              <Field label={t('sources.kind')}>
                <RadioGroup value={values.kind} onChange={(_, d) => setValues((v) => ({ ...v, kind: d.value as Kind }))} layout="horizontal">
                  <Radio value="folder" label={t('sources.kind.folder')} />
                  <Radio value="libvirt" label={t('sources.kind.libvirt')} />
                </RadioGroup>
              </Field>
              <Field
                label={values.kind === 'folder' ? t('sources.folderPath') : t('sources.libvirtUri')}
                hint={values.kind === 'folder' ? t('sources.folderPathHint') : t('sources.libvirtUriHint')}
                required
                validationMessage={msg('target')}
                validationState={msg('target') ? 'error' : 'none'}
              >
                {values.kind === 'folder' ? (
                  <FolderInput value={values.target} onValue={(value) => set('target')(undefined, { value })} onBlur={blur('target')} autoFocus />
                ) : (
                  <Input value={values.target} onChange={set('target')} onBlur={blur('target')} autoComplete="off" spellCheck={false} autoFocus />
                )}
              </Field>
              <Field label={t('sources.region')} hint={t('sources.regionHint')} required validationMessage={msg('region')} validationState={msg('region') ? 'error' : 'none'}>
                <Input value={values.region} onChange={set('region')} onBlur={blur('region')} autoComplete="off" spellCheck={false} />
              </Field>
              <Field label={t('sources.name')} hint={t('sources.nameHint')} validationMessage={msg('name')} validationState={msg('name') ? 'error' : 'none'}>
                <Input value={values.name} onChange={set('name')} onBlur={blur('name')} autoComplete="off" spellCheck={false} />
              </Field>
              <Field
                label={t('sources.cloudServiceLabel')}
                hint={t('sources.cloudServiceLabelHint')}
                validationMessage={msg('cloudServiceLabel')}
                validationState={msg('cloudServiceLabel') ? 'error' : 'none'}
              >
                <Input value={values.cloudServiceLabel} onChange={set('cloudServiceLabel')} onBlur={blur('cloudServiceLabel')} autoComplete="off" />
              </Field>
              {action.error && <ErrorBar error={action.error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={action.busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={action.busy} icon={action.busy ? <Spinner size="tiny" /> : undefined}>
                {t('sources.addSubmit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
