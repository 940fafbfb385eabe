// The source form shared by the Add and Edit source dialogs: its values, the contract's addSource
// schema as its validation, and the fields that say where a folder source may read VM disks.
import { Field, Switch, Text, Textarea, makeStyles, tokens } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import { methods } from '../../../preload/contract.js';
import { useT, type MessageKey } from '../i18n/index.js';

export const useSourceFormStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  surface: { maxWidth: '560px', width: '100%' },
});

export type Kind = 'folder' | 'libvirt';
export type SourceField = 'target' | 'region' | 'name' | 'cloudServiceLabel' | 'allowedRoots';
export interface Values {
  kind: Kind;
  target: string;
  region: string;
  name: string;
  cloudServiceLabel: string;
  /** One absolute path a line. */
  allowedRoots: string;
  allowBlockDevices: boolean;
}
export const empty: Values = { kind: 'folder', target: '', region: '', name: '', cloudServiceLabel: '', allowedRoots: '', allowBlockDevices: false };

export const rootsOf = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

export function argsOf(v: Values) {
  return {
    kind: v.kind,
    target: v.target.trim(),
    region: v.region.trim(),
    ...(v.name.trim() ? { name: v.name.trim() } : {}),
    ...(v.cloudServiceLabel.trim() ? { cloudServiceLabel: v.cloudServiceLabel.trim() } : {}),
    ...(v.kind === 'folder' ? { allowedRoots: rootsOf(v.allowedRoots), allowBlockDevices: v.allowBlockDevices } : {}),
  };
}

/** Localized messages for the contract's addSource issues, keyed by field. */
export function validate(v: Values): Partial<Record<SourceField, MessageKey>> {
  const r = methods.addSource.args.safeParse(argsOf(v));
  if (r.success) return {};
  const out: Partial<Record<SourceField, MessageKey>> = {};
  for (const issue of r.error.issues) {
    const field = issue.path[0];
    if (field === 'target') out.target = v.kind === 'folder' ? 'sources.err.folderPath' : 'sources.err.libvirtUri';
    else if (field === 'region') out.region = v.region.trim() === '' ? 'validation.region.required' : 'validation.region.format';
    else if (field === 'name') out.name = 'sources.err.name';
    else if (field === 'cloudServiceLabel') out.cloudServiceLabel = 'sources.err.label';
    else if (field === 'allowedRoots') out.allowedRoots = 'sources.err.allowedRoots';
  }
  return out;
}

/** Where a folder source may read VM disks besides its own folder (the engine refuses anything else). */
export function ConfinementFields({ values, onChange, error, onBlur }: { values: Values; onChange: (v: Partial<Values>) => void; error: string | undefined; onBlur: () => void }): ReactElement {
  const t = useT();
  return (
    <>
      <Field label={t('sources.allowedRoots')} hint={t('sources.allowedRootsHint')} validationMessage={error} validationState={error ? 'error' : 'none'}>
        <Textarea value={values.allowedRoots} onChange={(_, d) => onChange({ allowedRoots: d.value })} onBlur={onBlur} resize="vertical" spellCheck={false} placeholder="/srv/disks" />
      </Field>
      <Switch checked={values.allowBlockDevices} onChange={(_, d) => onChange({ allowBlockDevices: d.checked })} label={t('sources.allowBlockDevices')} />
      <Text size={200}>{t('sources.confinementHelp')}</Text>
    </>
  );
}
