// The one frame of a dialog that starts a job and follows it (Restore, Test restore, Browse files):
// the Fluent dialog shell, the busy flag and the engine's error, the started job kept current
// through `jobUpdated` (with the catch-up read for an update that came before its id was known),
// and the job's progress, status, link and result. Each dialog brings only its fields.
import { Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Link, Spinner, Text, makeStyles, tokens } from '@fluentui/react-components';
import { useState, type FormEvent, type ReactElement, type ReactNode } from 'react';
import { finishedStatuses, type Job } from '../../../preload/contract.js';
import { catchUpStartedJob, useAction, useEngineEvent, type Action } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { hrefOf } from '../routes.js';
import { JobProgress } from './JobProgress.js';
import { JobStatusBadge } from './labels.js';
import { useTrackJobs } from './notify.js';
import { ErrorBar } from './Page.js';

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  badges: { display: 'flex', gap: tokens.spacingHorizontalXS, flexWrap: 'wrap', alignItems: 'center' },
});

export interface StartedJob {
  /** The job this dialog started, as the engine reports it now. */
  job: Job | undefined;
  /** Whether it has ended (any final status). */
  done: boolean;
  /** The busy flag and error of starting it (and of the dialog's other actions). */
  action: Action;
  /** Starts the job: announced as a toast, followed here, caught up once. */
  start: (begin: () => Promise<Job>) => Promise<void>;
  /** Forgets the job and the error (the dialog closes or goes back to its fields). */
  reset: () => void;
}

export function useStartedJob(): StartedJob {
  const trackJobs = useTrackJobs();
  const action = useAction();
  const [job, setJob] = useState<Job>();
  useEngineEvent('jobUpdated', (j) => {
    if (job && j.id === job.id) setJob(j);
  });
  const start = async (begin: () => Promise<Job>) => {
    await action.run(async () => {
      const j = await begin();
      trackJobs([j]);
      setJob(j);
      await catchUpStartedJob(j, setJob);
    });
  };
  const reset = () => {
    setJob(undefined);
    action.clearError();
  };
  return { job, done: job !== undefined && finishedStatuses.includes(job.status), action, start, reset };
}

/** A started job: its progress (`field` for the dialog's main content), status, a link to it in Jobs, its result and error. */
export function StartedJobStatus({ job, label, field = false, className }: { job: Job; label: string; field?: boolean; className?: string }): ReactElement {
  const { t, jobText } = useI18n();
  const styles = useStyles();
  return (
    <div aria-live="polite" className={className}>
      <JobProgress job={job} label={label} field={field} />
      <div className={styles.badges}>
        <JobStatusBadge status={job.status} />
        <Link href={hrefOf('jobs', { id: String(job.id) })}>{t('notify.viewJob')}</Link>
      </div>
      {job.summary && <Text block>{jobText(job.summary)}</Text>}
      {job.error && <ErrorBar error={job.error} />}
    </div>
  );
}

export interface JobDialogProps {
  open: boolean;
  title: string;
  /** The surface's width class. */
  className?: string;
  started: StartedJob;
  /** Called after the dialog forgot its job (never while it starts one). */
  onClose: () => void;
  /** A dialog whose fields start the job: the whole body is a form with Cancel/Close and this submit button. */
  submit?: { label: string; icon: ReactElement; onSubmit: () => Promise<void> | void };
  /** Actions of a dialog without `submit` (Close is added last). */
  actions?: ReactNode;
  children: ReactNode;
}

export function JobDialog({ open, title, className, started, onClose, submit, actions, children }: JobDialogProps): ReactElement {
  const t = useI18n().t;
  const styles = useStyles();
  const { job, action } = started;
  const close = () => {
    if (action.busy) return;
    started.reset();
    onClose();
  };
  const body = (
    <DialogBody>
      <DialogTitle>{title}</DialogTitle>
      <DialogContent className={styles.form}>
        {children}
        {action.error && <ErrorBar error={action.error} />}
      </DialogContent>
      <DialogActions>
        {actions}
        <Button appearance={submit && job ? 'primary' : submit ? 'secondary' : 'primary'} onClick={close} disabled={action.busy}>
          {submit && !job ? t('common.cancel') : t('common.close')}
        </Button>
        {submit && !job && (
          <Button appearance="primary" type="submit" disabled={action.busy} icon={action.busy ? <Spinner size="tiny" /> : submit.icon}>
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
    <Dialog open={open} onOpenChange={(_, d) => !d.open && close()}>
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
