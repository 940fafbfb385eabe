// Friendly, translated names for the engine's enum values, and the badges that show them.
import { Badge, type BadgeProps } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import type { Job, JobOperation, JobStatus, Vm } from '../../../preload/contract.js';
import { useT, type I18n, type MessageKey } from '../i18n/index.js';

type T = I18n['t'];

export function operationLabel(t: T, op: JobOperation): string {
  return t(`op.${op}` as MessageKey);
}

export function statusLabel(t: T, status: JobStatus): string {
  return t(`status.${status}` as MessageKey);
}

const protectionKeys: Record<string, MessageKey> = {
  ProtectedPendingInitialBackup: 'protection.ProtectedPendingInitialBackup',
  Protected: 'protection.Protected',
  ProtectionError: 'protection.ProtectionError',
  ProtectionStopped: 'protection.ProtectionStopped',
};

export function protectionLabel(t: T, state: string | null): string {
  if (!state) return t('protection.none');
  const key = protectionKeys[state];
  return key ? t(key) : state;
}

/** "shop/web01" for a job about a VM, the vault name otherwise. */
export function jobSubject(job: Pick<Job, 'vmName' | 'cloudService' | 'vaultName'>): string {
  if (job.vmName) return job.cloudService ? `${job.cloudService}/${job.vmName}` : job.vmName;
  return job.vaultName ?? '';
}

export function vmLabel(vm: Pick<Vm, 'name' | 'cloudService'>): string {
  return vm.cloudService ? `${vm.cloudService}/${vm.name}` : vm.name;
}

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
  return (
    <Badge appearance="tint" color={statusColor[status]}>
      {statusLabel(t, status)}
    </Badge>
  );
}

const protectionColor: Record<string, BadgeProps['color']> = {
  ProtectedPendingInitialBackup: 'informative',
  Protected: 'success',
  ProtectionError: 'danger',
  ProtectionStopped: 'subtle',
};

export function ProtectionBadge({ state }: { state: string | null }): ReactElement {
  const t = useT();
  return (
    <Badge appearance="tint" color={state ? (protectionColor[state] ?? 'informative') : 'subtle'}>
      {protectionLabel(t, state)}
    </Badge>
  );
}
