// The one frame of a console dialog whose body is a form: the Fluent dialog shell, Enter submits,
// Cancel (or Close) and the submit button, no closing while the dialog's action runs, and the
// action's engine error under the fields. Each dialog brings its fields, its state and its call.
import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Field, Spinner, makeStyles, tokens, type FieldProps } from '@fluentui/react-components';
import type { FormEvent, ReactElement, ReactNode } from 'react';
import type { Action } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { ErrorBar } from './Page.js';

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
});

export interface FormDialogProps {
  open: boolean;
  title: string;
  /** The surface's width class. */
  className?: string;
  /** 'alert' for a destructive confirmation (no light dismiss). */
  modalType?: 'modal' | 'alert';
  /** The busy flag and error of the dialog's call: closing waits for it; its error shows under the fields unless `showError` is false. */
  action: Action;
  showError?: boolean;
  /** Called on Cancel, Close, Escape (never while the action runs); the dialog forgets its state here. */
  onClose: () => void;
  /** The submit button; without it the body is no form and only Close is offered. `hidden`: the form stays, its button is gone (a job dialog once its job started). */
  submit?: { label: string; icon?: ReactElement; disabled?: boolean; hidden?: boolean; className?: string; onSubmit: () => Promise<void> | void };
  /** The close button's text and look (default: Cancel, secondary). */
  close?: { label?: string; appearance?: 'primary' | 'secondary' };
  /** More buttons, before the close button. */
  actions?: ReactNode;
  children: ReactNode;
}

export function FormDialog({ open, title, className, modalType = 'modal', action, showError = true, onClose, submit, close: closeButton, actions, children }: FormDialogProps): ReactElement {
  const t = useI18n().t;
  const styles = useStyles();
  const close = () => {
    if (!action.busy) onClose();
  };
  const body = (
    <DialogBody>
      <DialogTitle>{title}</DialogTitle>
      <DialogContent className={styles.form}>
        {children}
        {showError && action.error && <ErrorBar error={action.error} />}
      </DialogContent>
      <DialogActions>
        {actions}
        <Button appearance={closeButton?.appearance ?? 'secondary'} onClick={close} disabled={action.busy}>
          {closeButton?.label ?? t('common.cancel')}
        </Button>
        {submit && !submit.hidden && (
          <Button appearance="primary" type="submit" className={submit.className} disabled={action.busy || submit.disabled === true} icon={action.busy ? <Spinner size="tiny" /> : submit.icon}>
            {submit.label}
          </Button>
        )}
      </DialogActions>
    </DialogBody>
  );
  const onSubmit = (ev: FormEvent) => {
    ev.preventDefault();
    void submit?.onSubmit();
  };
  return (
    <Dialog open={open} onOpenChange={(_, d) => !d.open && close()} modalType={modalType}>
      <DialogSurface className={className}>
        {submit ? (
          <form onSubmit={onSubmit} noValidate>
            {body}
          </form>
        ) : (
          body
        )}
      </DialogSurface>
    </Dialog>
  );
}

/** A field with its error beside it (none: no error state), the same in every dialog. */
export function CheckedField({ error, ...props }: Omit<FieldProps, 'validationMessage' | 'validationState'> & { error: string | undefined }): ReactElement {
  return <Field {...props} validationMessage={error} validationState={error ? 'error' : 'none'} />;
}
