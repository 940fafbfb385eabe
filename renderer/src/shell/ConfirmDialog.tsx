// The one confirmation dialog of the console: what is about to happen and what it stops, then the
// action (named by its verb, never "OK") or Cancel. An alert dialog (Fluent's guidance for a
// consequential action): Escape and Cancel leave everything as it was; the engine's error, if the
// action fails, stays in the dialog beside the button that caused it.
import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Spinner, makeStyles, tokens } from '@fluentui/react-components';
import type { ReactElement, ReactNode } from 'react';
import { useAction } from '../api.js';
import { useT } from '../i18n/index.js';
import { ErrorBar } from './Page.js';

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
});

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  /** What the action does and what stops because of it. */
  children: ReactNode;
  /** The verb of the action, e.g. "Lock vault". */
  confirmLabel: string;
  confirmIcon?: ReactElement;
  /** Runs the action; the dialog closes when it resolves, and shows the error when it throws. */
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}

export function ConfirmDialog({ open, title, children, confirmLabel, confirmIcon, onConfirm, onClose }: ConfirmDialogProps): ReactElement {
  const t = useT();
  const styles = useStyles();
  const action = useAction();
  const close = () => {
    if (action.busy) return;
    action.clearError();
    onClose();
  };
  const confirm = async () => {
    const done = await action.run(async () => {
      await onConfirm();
      return true;
    });
    if (done) {
      action.clearError();
      onClose();
    }
  };
  return (
    <Dialog open={open} onOpenChange={(_, d) => !d.open && close()} modalType="alert">
      <DialogSurface>
        <DialogBody>
          <DialogTitle>{title}</DialogTitle>
          <DialogContent className={styles.content}>
            {children}
            {action.error && <ErrorBar error={action.error} />}
          </DialogContent>
          <DialogActions>
            <Button appearance="secondary" onClick={close} disabled={action.busy}>
              {t('common.cancel')}
            </Button>
            <Button appearance="primary" onClick={() => void confirm()} disabled={action.busy} icon={action.busy ? <Spinner size="tiny" /> : confirmIcon}>
              {confirmLabel}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
