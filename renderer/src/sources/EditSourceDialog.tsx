// The Edit source dialog: where a folder source may read VM disks (its allowed roots, and whether
// block devices are read).
import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Spinner, Text } from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement } from 'react';
import type { Source } from '../../../preload/contract.js';
import { call, useAction } from '../api.js';
import { useT } from '../i18n/index.js';
import { ErrorBar } from '../shell/Page.js';
import { useFieldVisibility } from '../shell/ui.js';
import { ConfinementFields, empty, rootsOf, useSourceFormStyles, validate, type Values } from './sourceForm.js';

export function EditSourceDialog({ source, onClose, onSaved }: { source: Source | undefined; onClose: () => void; onSaved: (s: Source) => void }): ReactElement {
  const t = useT();
  const styles = useSourceFormStyles();
  const [values, setValues] = useState<Values>(empty);
  const [loadedFor, setLoadedFor] = useState<string>();
  const visibility = useFieldVisibility<'allowedRoots'>();
  const action = useAction();
  if (source && loadedFor !== source.id) {
    setLoadedFor(source.id);
    setValues({ ...empty, kind: 'folder', target: source.target, region: source.region, allowedRoots: source.allowedRoots.join('\n'), allowBlockDevices: source.allowBlockDevices });
  }
  const bad = validate(values).allowedRoots;
  const shown = visibility.show('allowedRoots', bad);
  const close = () => {
    if (action.busy) return;
    setLoadedFor(undefined);
    visibility.reset();
    action.clearError();
    onClose();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    visibility.submit();
    if (!source || bad) return;
    await action.run(async () => {
      const saved = await call('editSource', { name: source.name, allowedRoots: rootsOf(values.allowedRoots), allowBlockDevices: values.allowBlockDevices });
      setLoadedFor(undefined);
      visibility.reset();
      onSaved(saved);
    });
  };
  return (
    <Dialog open={source !== undefined} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface className={styles.surface}>
        <form onSubmit={submit} noValidate>
          <DialogBody>
            <DialogTitle>{t('sources.editTitle', { name: source?.name ?? '' })}</DialogTitle>
            <DialogContent className={styles.form}>
              <Text>{t('sources.editIntro', { target: source?.target ?? '' })}</Text>
              <ConfinementFields
                values={values}
                onChange={(p) => {
                  setValues((v) => ({ ...v, ...p }));
                  if (p.allowedRoots !== undefined) visibility.edit('allowedRoots');
                }}
                error={shown ? t(shown) : undefined}
                onBlur={visibility.blur('allowedRoots')}
              />
              {action.error && <ErrorBar error={action.error} />}
            </DialogContent>
            <DialogActions>
              <Button appearance="secondary" onClick={close} disabled={action.busy}>
                {t('common.cancel')}
              </Button>
              <Button appearance="primary" type="submit" disabled={action.busy} icon={action.busy ? <Spinner size="tiny" /> : undefined}>
                {t('sources.editSubmit')}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
