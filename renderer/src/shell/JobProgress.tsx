// A running job's progress as the engine reports it: bytes done (read AND safe in the vault) of
// the total, as a bar and as text. One rendering for every place that shows a job in flight.
import { ProgressBar, Text, makeStyles, tokens } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import type { Job } from '../../../preload/contract.js';
import { useI18n } from '../i18n/index.js';

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXXS, minWidth: '160px' },
  text: { color: tokens.colorNeutralForeground2 },
});

/** "42% · 16.8 MB of 40 MB" with its bar; only the bar's name (`label`) differs per place. */
export function JobProgress({ job, label }: { job: Job; label: string }): ReactElement | null {
  const { t, formatBytes } = useI18n();
  const styles = useStyles();
  // Before the total is known (queued, or waiting for the vault) there is nothing honest to draw.
  if (job.bytesTotal <= 0) return null;
  const text = t('jobs.progressText', { percent: Math.round(job.progress * 100), done: formatBytes(job.bytesDone), total: formatBytes(job.bytesTotal) });
  return (
    <div className={styles.root}>
      <ProgressBar value={job.progress} max={1} aria-label={label} aria-valuetext={text} />
      <Text size={200} className={styles.text}>
        {text}
      </Text>
    </div>
  );
}
