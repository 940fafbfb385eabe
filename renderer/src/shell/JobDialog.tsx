// The one frame of a dialog that starts a job and follows it (Restore, Test restore, Browse files):
// the Fluent dialog shell, the busy flag and the engine's error, the started job kept current
// through `jobUpdated` (with the catch-up read for an update that came before its id was known),
// and the job's progress, status, link and result. Each dialog brings only its fields.
import { Link, Text, makeStyles, tokens } from '@fluentui/react-components';
import { useState, type ReactElement, type ReactNode } from 'react';
import { finishedStatuses, type Job, type RecoveryPoint } from '../../../preload/contract.js';
import { catchUpStartedJob, useAction, useEngineEvent, type Action } from '../api.js';
import { useI18n } from '../i18n/index.js';
import { hrefOf } from '../routes.js';
import { JobProgress } from './JobProgress.js';
import { JobStatusBadge } from './labels.js';
import { useTrackJobs } from './notify.js';
import { FormDialog } from './FormDialog.js';
import { ErrorBar } from './Page.js';
import type { FieldVisibility } from './ui.js';

const useStyles = makeStyles({
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

/** A FormDialog that follows its started job: Cancel and the submit button until the job starts, then Close. */
export function JobDialog({ open, title, className, started, onClose, submit, actions, children }: JobDialogProps): ReactElement {
  const t = useI18n().t;
  const { job, action } = started;
  return (
    <FormDialog
      open={open}
      title={title}
      className={className}
      action={action}
      onClose={() => {
        started.reset();
        onClose();
      }}
      submit={submit && { ...submit, hidden: job !== undefined }}
      close={submit && !job ? undefined : { label: t('common.close'), appearance: 'primary' }}
      actions={actions}
    >
      {children}
    </FormDialog>
  );
}

/**
 * A job dialog about one recovery point of a VM (Restore, Test restore): the point's time and size,
 * the dialog's fields until its job starts, then the job's status. The submit checks the fields
 * (every error shows) and starts the job only when `valid`.
 */
export function PointJobDialog({
  point,
  title,
  className,
  started,
  fields,
  valid,
  submitLabel,
  submitIcon,
  begin,
  progressLabel,
  onClose,
  children,
  after,
}: {
  point: RecoveryPoint | undefined;
  title: string;
  className?: string;
  started: StartedJob;
  fields: Pick<FieldVisibility<string>, 'submit' | 'reset'>;
  valid: boolean;
  submitLabel: string;
  submitIcon: ReactElement;
  begin: (point: RecoveryPoint) => Promise<Job>;
  progressLabel: string;
  onClose: () => void;
  /** The fields, shown until the job starts. */
  children: ReactNode;
  /** Shown under the job's status once it started. */
  after?: ReactNode;
}): ReactElement {
  const { t, formatDateTime, formatBytes } = useI18n();
  const { job } = started;
  const submit = async () => {
    fields.submit();
    if (!point || !valid) return;
    await started.start(() => begin(point));
  };
  return (
    <JobDialog open={point !== undefined} title={title} className={className} started={started} onClose={() => (fields.reset(), onClose())} submit={{ label: submitLabel, icon: submitIcon, onSubmit: submit }}>
      {point && <Text>{t('restore.point', { created: formatDateTime(point.created), size: formatBytes(point.logicalBytes) })}</Text>}
      {!job && children}
      {job && <StartedJobStatus job={job} label={progressLabel} field />}
      {job && after}
    </JobDialog>
  );
}
