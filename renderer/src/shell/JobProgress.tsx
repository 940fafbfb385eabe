// A job's progress as the engine reports it: bytes done (read AND safe in the vault) of the total,
// as a bar and as text. One rendering for every place that shows a job's progress: compact (a
// list row, a file restore) or as a labelled field (the Jobs details panel, the restore dialogs).
import { Field, ProgressBar, Text, makeStyles, tokens } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import type { Job } from '../../../preload/contract.js';
import { useI18n } from '../i18n/index.js';

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXXS, minWidth: '160px' },
  text: { color: tokens.colorNeutralForeground2 },
});

/**
 * "42% · 16.8 MB of 40 MB" with its bar; only the bar's name (`label`) differs per place. `field`
 * shows it as a labelled field that stays after the job ends, coloured by how it ended.
 */
export function JobProgress({ job, label, field = false }: { job: Job; label: string; field?: boolean }): ReactElement | null {
  const { t, formatBytes } = useI18n();
  const styles = useStyles();
  // Before the total is known (queued, or waiting for the vault) there is no honest figure.
  const known = job.bytesTotal > 0;
  const running = job.status === 'Queued' || job.status === 'InProgress' || job.status === 'Cancelling';
  const text = known ? t('jobs.progressText', { percent: Math.round(job.progress * 100), done: formatBytes(job.bytesDone), total: formatBytes(job.bytesTotal) }) : undefined;
  if (field) {
    if (!running && !known) return null;
    const color = job.status === 'Failed' ? 'error' : job.status === 'CompletedWithWarnings' ? 'warning' : job.status === 'Completed' ? 'success' : 'brand';
    return (
      <Field label={label} validationMessage={text} validationState="none">
        {/* Unknown total while it runs: an indeterminate bar, not a made-up 0%. */}
        <ProgressBar value={known ? job.progress : undefined} max={1} thickness="large" color={color} />
      </Field>
    );
  }
  if (!known) return null;
  return (
    <div className={styles.root}>
      <ProgressBar value={job.progress} max={1} aria-label={label} aria-valuetext={text} />
      <Text size={200} className={styles.text}>
        {text}
      </Text>
    </div>
  );
}
