// The filter bar of the Jobs page: status, operation, From/To (date and time fields in the UI
// language, a range checked inline), vault and VM. The filters live in the address; a bound names
// the whole minute the list shows (preload/time-bounds.ts), so "To 21:49" includes a job of 21:49.
import { Button, Dropdown, Field, Option, makeStyles, tokens } from '@fluentui/react-components';
import { FilterDismiss20Regular } from '@fluentui/react-icons';
import type { ReactElement } from 'react';
import { jobOperations, jobStatuses, jobTriggers, vmLabel, type JobOperation, type JobStatus, type JobTrigger, type VaultSummary, type Vm } from '../../../preload/contract.js';
import { boundsInOrder, isSaneInstant, withinBounds } from '../../../preload/time-bounds.js';
import { minuteBound } from '../i18n/dateTime.js';
import { useI18n, type I18n } from '../i18n/index.js';
import { DateTimeField } from '../shell/DateTimeFields.js';
import { operationLabel, statusLabel, triggerLabel } from '../shell/labels.js';

/** From and To as the address holds them: local "YYYY-MM-DDTHH:mm" (or '' for none). */
export interface TimeRange {
  from: string;
  to: string;
}

/** What is wrong with a range, per bound, in the UI language (empty when nothing is). */
export function rangeProblems(t: I18n['t'], r: TimeRange): { from?: string; to?: string } {
  const from = r.from ? minuteBound(r.from) : undefined;
  const to = r.to ? minuteBound(r.to) : undefined;
  const bad = (local: string, bound: string | undefined) => local !== '' && (bound === undefined || !isSaneInstant(Date.parse(bound)));
  const problems: { from?: string; to?: string } = {};
  if (bad(r.from, from)) problems.from = t('jobs.filter.badBound');
  if (bad(r.to, to)) problems.to = t('jobs.filter.badBound');
  if (!problems.from && !problems.to && !boundsInOrder(from, to)) problems.to = t('jobs.filter.fromAfterTo');
  return problems;
}

/** The bounds the engine is asked for: each to the minute, none that the filter bar refuses. */
export function rangeQuery(r: TimeRange): { from?: string; to?: string } {
  const from = r.from ? minuteBound(r.from) : undefined;
  const to = r.to ? minuteBound(r.to) : undefined;
  const sane = (b: string | undefined) => (b !== undefined && isSaneInstant(Date.parse(b)) ? b : undefined);
  const [f, t] = [sane(from), sane(to)];
  if (!boundsInOrder(f, t)) return {};
  return { ...(f ? { from: f } : {}), ...(t ? { to: t } : {}) };
}

/** Whether a job created at `createdAt` falls in the range, by the same rule as the engine. */
export function inRange(createdAt: string, r: TimeRange): boolean {
  const q = rangeQuery(r);
  return withinBounds(createdAt, q.from, q.to);
}

export interface JobFilterValues extends TimeRange {
  status: JobStatus[];
  operation: JobOperation[];
  trigger: JobTrigger[];
  vault: string;
  vm: string;
}

const useStyles = makeStyles({
  filters: { display: 'flex', gap: tokens.spacingHorizontalM, flexWrap: 'wrap', alignItems: 'flex-start' },
  filter: { minWidth: '170px' },
  clear: { alignSelf: 'flex-end' },
});

export function JobFilterBar({
  filters,
  setQuery,
  onClear,
  anyFilter,
  vaults,
  vms,
}: {
  filters: JobFilterValues;
  setQuery(patch: Partial<Record<keyof JobFilterValues | 'id', string>>): void;
  onClear(): void;
  anyFilter: boolean;
  vaults: readonly VaultSummary[];
  vms: readonly Vm[];
}): ReactElement {
  const { t } = useI18n();
  const styles = useStyles();
  const problems = rangeProblems(t, filters);
  const vmName = vms.find((v) => v.id === filters.vm);
  return (
    <div className={styles.filters} role="search" aria-label={t('jobs.filters')}>
      <MultiFilter label={t('jobs.filter.status')} all={t('jobs.filter.all')} values={jobStatuses} chosen={filters.status} labelOf={(s) => statusLabel(t, s)} onChange={(v) => setQuery({ status: v, id: '' })} />
      <MultiFilter label={t('jobs.filter.operation')} all={t('jobs.filter.all')} values={jobOperations} chosen={filters.operation} labelOf={(o) => operationLabel(t, o)} onChange={(v) => setQuery({ operation: v, id: '' })} />
      <MultiFilter label={t('jobs.filter.trigger')} all={t('jobs.filter.all')} values={jobTriggers} chosen={filters.trigger} labelOf={(g) => triggerLabel(t, g)} onChange={(v) => setQuery({ trigger: v, id: '' })} />
      <DateTimeField label={t('jobs.filter.from')} value={filters.from} dayTime="00:00" error={problems.from} onChange={(v) => setQuery({ from: v, id: '' })} />
      <DateTimeField label={t('jobs.filter.to')} value={filters.to} dayTime="23:59" error={problems.to} onChange={(v) => setQuery({ to: v, id: '' })} />
      <Field label={t('jobs.filter.vault')} className={styles.filter}>
        <Dropdown value={filters.vault || t('jobs.filter.all')} selectedOptions={[filters.vault]} onOptionSelect={(_, d) => setQuery({ vault: d.optionValue ?? '', id: '' })}>
          <Option value="">{t('jobs.filter.all')}</Option>
          {vaults.map((v) => (
            <Option key={v.id} value={v.name}>
              {v.name}
            </Option>
          ))}
        </Dropdown>
      </Field>
      <Field label={t('jobs.filter.vm')} className={styles.filter}>
        <Dropdown value={vmName ? vmLabel(vmName) : t('jobs.filter.all')} selectedOptions={[filters.vm]} onOptionSelect={(_, d) => setQuery({ vm: d.optionValue ?? '', id: '' })}>
          <Option value="">{t('jobs.filter.all')}</Option>
          {vms.map((v) => (
            <Option key={v.id} value={v.id} text={vmLabel(v)}>
              {vmLabel(v)}
            </Option>
          ))}
        </Dropdown>
      </Field>
      {anyFilter && (
        <Button className={styles.clear} appearance="subtle" icon={<FilterDismiss20Regular />} onClick={onClear}>
          {t('jobs.clearFilters')}
        </Button>
      )}
    </div>
  );
}

/** A multi-choice filter of an enum (status, operation, trigger): "All" when nothing is chosen; the choice goes to the address as a comma list. */
function MultiFilter<V extends string>({
  label,
  all,
  values,
  chosen,
  labelOf,
  onChange,
}: {
  label: string;
  all: string;
  values: readonly V[];
  chosen: readonly V[];
  labelOf(v: V): string;
  onChange(commaList: string): void;
}): ReactElement {
  const styles = useStyles();
  return (
    <Field label={label} className={styles.filter}>
      <Dropdown multiselect value={chosen.length === 0 ? all : chosen.map(labelOf).join(', ')} selectedOptions={[...chosen]} onOptionSelect={(_, d) => onChange(d.selectedOptions.join(','))}>
        {values.map((v) => (
          <Option key={v} value={v}>
            {labelOf(v)}
          </Option>
        ))}
      </Dropdown>
    </Field>
  );
}
