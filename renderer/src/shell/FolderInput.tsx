// A folder path field. In the desktop app it also offers the native folder picker; in the
// browser console (a page cannot read server paths) the path is typed.
import { Button, Input, Tooltip } from '@fluentui/react-components';
import { FolderOpenRegular } from '@fluentui/react-icons';
import { call, useApi } from '../api.js';
import { useT } from '../i18n/index.js';

export interface FolderInputProps {
  value: string;
  onValue(value: string): void;
  onBlur?: () => void;
  autoFocus?: boolean;
  /** Title of the native dialog. */
  title?: string;
}

export function FolderInput({ value, onValue, onBlur, autoFocus, title }: FolderInputProps) {
  const t = useT();
  const info = useApi('engineInfo', {});
  const desktop = info.data?.face === 'electron';
  const browse = async () => {
    const picked = await call('pickFolder', { ...(title ? { title } : {}), ...(value.startsWith('/') ? { defaultPath: value } : {}) });
    if (picked.path) onValue(picked.path);
  };
  return (
    <Input
      value={value}
      onChange={(_, d) => onValue(d.value)}
      onBlur={onBlur}
      autoFocus={autoFocus}
      autoComplete="off"
      spellCheck={false}
      contentAfter={
        desktop ? (
          <Tooltip content={t('common.browse')} relationship="label">
            <Button appearance="transparent" size="small" icon={<FolderOpenRegular />} onClick={() => void browse()} />
          </Tooltip>
        ) : undefined
      }
    />
  );
}
