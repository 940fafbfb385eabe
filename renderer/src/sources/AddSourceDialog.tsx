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
} from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import type { Source } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useT } from '../i18n/index.js';
import { FolderInput } from '../shell/FolderInput.js';
import { ErrorBar } from '../shell/Page.js';
import { useFieldVisibility } from '../shell/ui.js';

import { argsOf, ConfinementFields, empty, useSourceFormStyles, validate, type Kind, type SourceField, type Values } from './sourceForm.js';

export function AddSourceDialog({ open, onClose, onAdded }: { open: boolean; onClose: () => void; onAdded: (s: Source) => void }): ReactElement {
  const t = useT();
  const styles = useSourceFormStyles();
  const [values, setValues] = useState<Values>(empty);
  const visibility = useFieldVisibility<SourceField>();
  const action = useAction();
  const errors = validate(values);

  const close = () => {
    if (action.busy) return;
    setValues(empty);
    visibility.reset();
    action.clearError();
    onClose();
  };
  const set = (field: SourceField) => (_: unknown, data: { value: string }) => {
    setValues((v) => ({ ...v, [field]: data.value }));
    visibility.edit(field);
  };
  const blur = visibility.blur;
  const msg = (field: SourceField) => {
    const key = visibility.show(field, errors[field]);
    return key ? t(key) : undefined;
  };

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    visibility.submit();
    if (Object.keys(errors).length > 0) return;
    await action.run(async () => {
      const source = await call('addSource', argsOf(values));
      setValues(empty);
      visibility.reset();
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
              {values.kind === 'folder' && <ConfinementFields
                  values={values}
                  onChange={(p) => {
                    setValues((v) => ({ ...v, ...p }));
                    if (p.allowedRoots !== undefined) visibility.edit('allowedRoots');
                  }}
                  error={msg('allowedRoots')}
                  onBlur={blur('allowedRoots')}
                />}
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
