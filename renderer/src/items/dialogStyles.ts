import { makeStyles, tokens } from '@fluentui/react-components';

/** The layout the Protected Items dialogs share. */
export const useDialogStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  surface: { maxWidth: '560px', width: '100%' },
});
