// Friendly, translated names for the engine's enum values, and the badges that show them.
import { Badge, makeStyles, type BadgeProps } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import { vmLabel, type Job, type JobOperation, type JobStatus, type JobTrigger, type ProtectionState } from '../../../preload/contract.js';
import { useT, type I18n, type MessageKey } from '../i18n/index.js';

type T = I18n['t'];

// The keys are built from the contract's enums: a value without a message fails the typecheck.
export function operationLabel(t: T, op: JobOperation): string {
  return t(`op.${op}`);
}

export function statusLabel(t: T, status: JobStatus): string {
  return t(`status.${status}`);
}

/** Manual, Scheduled, Catch-up, System: what started a job. */
export function triggerLabel(t: T, trigger: JobTrigger): string {
  return t(`jobs.trigger.${trigger}`);
}

export function protectionLabel(t: T, state: ProtectionState | null): string {
  return state ? t(`protection.${state}`) : t('protection.none');
}

/** "shop/web01" for a job about a VM, the vault name otherwise. */
export function jobSubject(job: Pick<Job, 'vmName' | 'cloudService' | 'vaultName'>): string {
  if (job.vmName) return vmLabel({ name: job.vmName, cloudService: job.cloudService });
  return job.vaultName ?? '';
}

// A badge is one line high: a long state ("Protected (pending initial backup)") keeps to one line
// and widens its cell instead of spilling out of the badge.
const useBadgeStyles = makeStyles({ oneLine: { whiteSpace: 'nowrap', flexShrink: 0 } });

const statusColor: Record<JobStatus, BadgeProps['color']> = {
  Queued: 'informative',
  InProgress: 'brand',
  Completed: 'success',
  CompletedWithWarnings: 'warning',
  Failed: 'danger',
  Cancelling: 'warning',
  Cancelled: 'subtle',
};

export function JobStatusBadge({ status }: { status: JobStatus }): ReactElement {
  const t = useT();
  const styles = useBadgeStyles();
  return (
    <Badge appearance="tint" color={statusColor[status]} className={styles.oneLine}>
      {statusLabel(t, status)}
    </Badge>
  );
}

const protectionColor: Record<ProtectionState, BadgeProps['color']> = {
  ProtectedPendingInitialBackup: 'informative',
  Protected: 'success',
  ProtectionError: 'danger',
  ProtectionStopped: 'subtle',
  BackupDataOnly: 'warning',
};

export function ProtectionBadge({ state }: { state: ProtectionState | null }): ReactElement {
  const t = useT();
  const styles = useBadgeStyles();
  return (
    <Badge appearance="tint" color={state ? protectionColor[state] : 'subtle'} className={styles.oneLine}>
      {protectionLabel(t, state)}
    </Badge>
  );
}

const tierKeys: Record<string, MessageKey> = {
  daily: 'points.tier.daily',
  weekly: 'points.tier.weekly',
  monthly: 'points.tier.monthly',
  yearly: 'points.tier.yearly',
  'retain-until': 'points.tier.retainUntil',
  latest: 'points.tier.latest',
};

/** The retention tier that keeps a recovery point ("Daily", "Retain until"), or the tier's own name. */
export function tierLabel(t: T, tier: string): string {
  const key = tierKeys[tier];
  return key ? t(key) : tier;
}

/** A "kept by" tier as a badge, in the body text size (the small badge's 10 px was hard to read); tint keeps its contrast on a hovered row. */
export function TierBadge({ tier }: { tier: string }): ReactElement {
  const t = useT();
  const styles = useBadgeStyles();
  return (
    <Badge appearance="tint" color="brand" size="medium" className={styles.oneLine}>
      {tierLabel(t, tier)}
    </Badge>
  );
}
