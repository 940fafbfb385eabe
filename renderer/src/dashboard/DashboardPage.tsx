// The dashboard (W18): protected VMs by state, the last 24 hours of jobs (each a link to the
// filtered Jobs page), storage per vault, backup volume per day and the next scheduled backups.
// Live: refetched (coalesced) on engine events, never polled.
import {
  Button,
  Link,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  makeStyles,
  mergeClasses,
  tokens,
} from '@fluentui/react-components';
import { Vault24Regular } from '@fluentui/react-icons';
import type { ReactElement, ReactNode } from 'react';
import { vmLabel, type Dashboard, type DeferReason, type JobStatus, type ProtectionState } from '../../../preload/contract.js';
import { useApi } from '../api.js';
import { useI18n, type MessageKey } from '../i18n/index.js';
import { localDateTime } from '../i18n/dateTime.js';
import { hrefOf } from '../routes.js';
import { protectionLabel } from '../shell/labels.js';
import { PathText } from '../shell/Path.js';
import { ErrorBar, Page } from '../shell/Page.js';
import { EmptyState, usePanelStyles } from '../shell/ui.js';

const useStyles = makeStyles({
  grid: { display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(320px, 1fr))', gap: tokens.spacingHorizontalL },
  wide: { gridColumn: '1 / -1' },
  cardTitle: { margin: 0, fontSize: tokens.fontSizeBase400, fontWeight: tokens.fontWeightSemibold },
  tiles: { display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(110px, 1fr))', gap: tokens.spacingHorizontalM },
  tile: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalXXS,
    padding: tokens.spacingHorizontalM,
    borderRadius: tokens.borderRadiusMedium,
    backgroundColor: tokens.colorNeutralBackground2,
    textDecoration: 'none',
    color: tokens.colorNeutralForeground1,
    borderLeft: `${tokens.strokeWidthThicker} solid ${tokens.colorNeutralStroke1}`,
  },
  tileLink: { ':hover': { backgroundColor: tokens.colorNeutralBackground2Hover }, ':focus-visible': { outline: `${tokens.strokeWidthThick} solid ${tokens.colorStrokeFocus2}` } },
  number: { fontSize: tokens.fontSizeHero700, lineHeight: tokens.lineHeightHero700, fontWeight: tokens.fontWeightSemibold },
  ok: { borderLeftColor: tokens.colorPaletteGreenBorder2 },
  bad: { borderLeftColor: tokens.colorPaletteRedBorder2 },
  busy: { borderLeftColor: tokens.colorBrandStroke1 },
  info: { borderLeftColor: tokens.colorPaletteBlueBorderActive },
  chart: { width: '100%', height: 'auto', display: 'block' },
  bar: { fill: tokens.colorBrandBackground },
  barAdded: { fill: tokens.colorPaletteTealForeground2 },
  axis: { stroke: tokens.colorNeutralStroke1 },
  axisText: { fill: tokens.colorNeutralForeground2, fontSize: '11px' },
  legend: { display: 'flex', gap: tokens.spacingHorizontalL, alignItems: 'center' },
  swatch: { display: 'inline-block', width: '12px', height: '12px', borderRadius: '2px', marginInlineEnd: tokens.spacingHorizontalXS, verticalAlign: 'middle' },
  swatchTotal: { backgroundColor: tokens.colorBrandBackground },
  swatchAdded: { backgroundColor: tokens.colorPaletteTealForeground2 },
  // Columns as wide as their content needs: equal fixed columns let long VM names run into the next one.
  autoTable: { tableLayout: 'auto' },
  noWrap: { whiteSpace: 'nowrap' },
});

function Card({ title, id, className, children }: { title: string; id: string; className?: string; children: ReactNode }): ReactElement {
  const panel = usePanelStyles();
  const styles = useStyles();
  return (
    <section className={mergeClasses(panel.padded, className)} aria-labelledby={id}>
      <h2 id={id} className={styles.cardTitle}>
        {title}
      </h2>
      {children}
    </section>
  );
}

function VolumeChart({ days }: { days: Dashboard['backupVolumeByDay'] }): ReactElement {
  const { t, formatBytes, locale } = useI18n();
  const styles = useStyles();
  const panel = usePanelStyles();
  const W = 900;
  const H = 220;
  const left = 64;
  const bottom = 28;
  const top = 10;
  const max = Math.max(1, ...days.map((d) => d.logicalBytes));
  const step = (W - left - 8) / Math.max(1, days.length);
  const y = (v: number) => H - bottom - ((H - bottom - top) * v) / max;
  const dayFmt = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', timeZone: 'UTC' });
  const label = (day: string) => dayFmt.format(new Date(`${day}T00:00:00Z`));
  return (
    <>
      <svg className={styles.chart} viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="volume-chart-desc">
        <desc id="volume-chart-desc">{t('dashboard.chartDesc')}</desc>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line className={styles.axis} x1={left} x2={W - 4} y1={y(max * f)} y2={y(max * f)} strokeOpacity={f === 0 ? 1 : 0.3} />
            <text className={styles.axisText} x={left - 6} y={y(max * f) + 4} textAnchor="end">
              {formatBytes(max * f)}
            </text>
          </g>
        ))}
        {days.map((d, i) => {
          const x = left + i * step + step * 0.15;
          const w = step * 0.7;
          return (
            <g key={d.day}>
              <title>{t('dashboard.chartBar', { day: label(d.day), total: formatBytes(d.logicalBytes), added: formatBytes(d.addedBytes) })}</title>
              <rect className={styles.bar} x={x} width={w} y={y(d.logicalBytes)} height={H - bottom - y(d.logicalBytes)} rx={2} />
              <rect className={styles.barAdded} x={x} width={w} y={y(d.addedBytes)} height={H - bottom - y(d.addedBytes)} rx={2} />
              {i % 5 === 4 || i === 0 ? (
                <text className={styles.axisText} x={x + w / 2} y={H - 8} textAnchor="middle">
                  {label(d.day)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <div className={styles.legend} aria-hidden>
        <Text size={200}>
          <span className={mergeClasses(styles.swatch, styles.swatchTotal)} />
          {t('dashboard.chartTotal')}
        </Text>
        <Text size={200}>
          <span className={mergeClasses(styles.swatch, styles.swatchAdded)} />
          {t('dashboard.chartAdded')}
        </Text>
      </div>
      <table className={panel.visuallyHidden}>
        <caption>{t('dashboard.volume')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('dashboard.day')}</th>
            <th scope="col">{t('dashboard.chartTotal')}</th>
            <th scope="col">{t('dashboard.chartAdded')}</th>
          </tr>
        </thead>
        <tbody>
          {days.map((d) => (
            <tr key={d.day}>
              <th scope="row">{label(d.day)}</th>
              <td>{formatBytes(d.logicalBytes)}</td>
              <td>{formatBytes(d.addedBytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The order of the dashboard's tiles: the healthy ones first. */
/** Why a next backup waits (laptop-aware schedules), in the reader's language. */
const deferredText: Record<DeferReason, MessageKey> = { onBattery: 'dashboard.deferred.onBattery', meteredConnection: 'dashboard.deferred.meteredConnection' };

const stateOrder: readonly ProtectionState[] = ['Protected', 'ProtectedPendingInitialBackup', 'ProtectionError', 'ProtectionStopped'];

export function DashboardPage(): ReactElement {
  const { t, formatNumber, formatBytes, formatDateTime } = useI18n();
  const styles = useStyles();
  const panel = usePanelStyles();
  const dash = useApi('dashboard', {}, { refreshOn: ['jobUpdated', 'protectionChanged', 'vaultsChanged'], coalesceMs: 400 });
  const d = dash.data;
  const since = localDateTime(new Date(Date.now() - 86_400_000));
  const jobsLink = (status: JobStatus[]) => hrefOf('jobs', { status: status.join(','), from: since });
  const tile = (label: string, value: number, tone: string, href?: string) => {
    const content = (
      <>
        <span className={styles.number}>{formatNumber(value)}</span>
        <Text size={200}>{label}</Text>
      </>
    );
    return href ? (
      <a key={label} href={href} className={mergeClasses(styles.tile, styles.tileLink, tone)}>
        {content}
      </a>
    ) : (
      <div key={label} className={mergeClasses(styles.tile, tone)}>
        {content}
      </div>
    );
  };
  const toneOf = (state: ProtectionState) => (state === 'Protected' ? styles.ok : state === 'ProtectionError' ? styles.bad : state === 'ProtectedPendingInitialBackup' ? styles.info : '');
  const states = d ? stateOrder.filter((s) => d.protectedByState[s] !== undefined) : [];
  const totalProtected = d ? Object.values(d.protectedByState).reduce((a, b) => a + b, 0) : 0;
  const upcoming = d ? d.vms.filter((v) => v.nextBackupAt).sort((a, b) => a.nextBackupAt!.localeCompare(b.nextBackupAt!)).slice(0, 8) : [];

  return (
    <Page title={t('dashboard.title')} intro={t('dashboard.intro')}>
      {dash.error && <ErrorBar error={dash.error} onRetry={dash.reload} />}
      {d && d.vaults.length === 0 && (
        <EmptyState
          icon={<Vault24Regular />}
          title={t('dashboard.vaultsNone')}
          body={t('vaults.empty.body')}
          action={
            <Button as="a" href={hrefOf('vaults')} appearance="primary">
              {t('dashboard.goToVaults')}
            </Button>
          }
        />
      )}
      {d && (
        <div className={styles.grid}>
          <Card title={t('dashboard.protected', { count: formatNumber(totalProtected) })} id="dash-protected">
            {states.length === 0 ? (
              <Text className={panel.muted}>
                {t('dashboard.noneProtected')} <Link href={hrefOf('protectedItems')}>{t('nav.protectedItems')}</Link>
              </Text>
            ) : (
              <div className={styles.tiles}>{states.map((s) => tile(protectionLabel(t, s), d.protectedByState[s] ?? 0, toneOf(s)))}</div>
            )}
          </Card>
          <Card title={t('dashboard.jobs24h')} id="dash-jobs">
            <div className={styles.tiles}>
              {tile(t('dashboard.succeeded'), d.jobs24h.completed + d.jobs24h.warnings, styles.ok, jobsLink(['Completed', 'CompletedWithWarnings']))}
              {tile(t('dashboard.failed'), d.jobs24h.failed, styles.bad, jobsLink(['Failed']))}
              {tile(t('dashboard.inProgress'), d.jobs24h.inProgress, styles.busy, jobsLink(['Queued', 'InProgress', 'Cancelling']))}
            </div>
          </Card>
          <Card title={t('dashboard.volume')} id="dash-volume" className={styles.wide}>
            <VolumeChart days={d.backupVolumeByDay} />
          </Card>
          <Card title={t('dashboard.storage')} id="dash-storage">
            <Table size="small" aria-labelledby="dash-storage" className={styles.autoTable}>
              <TableHeader>
                <TableRow>
                  <TableHeaderCell>{t('vaults.col.name')}</TableHeaderCell>
                  <TableHeaderCell>{t('dashboard.points')}</TableHeaderCell>
                  <TableHeaderCell>{t('dashboard.used')}</TableHeaderCell>
                  <TableHeaderCell>{t('dashboard.saved')}</TableHeaderCell>
                </TableRow>
              </TableHeader>
              <TableBody>
                {d.vaults.map((v) => (
                  <TableRow key={v.name}>
                    <TableCell>
                      <Text weight="semibold">{v.name}</Text> <Text size={200} className={panel.muted}>{v.region}</Text>
                    </TableCell>
                    <TableCell>{formatNumber(v.pointCount)}</TableCell>
                    <TableCell className={styles.noWrap}>{formatBytes(v.storedBytes)}</TableCell>
                    <TableCell className={styles.noWrap}>
                      {formatBytes(v.savedBytes)}
                      {v.logicalBytes > 0 && <Text size={200} className={panel.muted}>{` (${Math.round((100 * v.savedBytes) / v.logicalBytes)}%)`}</Text>}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </Card>
          <Card title={t('dashboard.next')} id="dash-next">
            {upcoming.length === 0 ? (
              <Text className={panel.muted}>{t('dashboard.noneScheduled')}</Text>
            ) : (
              <Table size="small" aria-labelledby="dash-next" className={styles.autoTable}>
                <TableHeader>
                  <TableRow>
                    <TableHeaderCell>{t('items.col.name')}</TableHeaderCell>
                    <TableHeaderCell>{t('protect.policy')}</TableHeaderCell>
                    <TableHeaderCell>{t('items.col.nextBackup')}</TableHeaderCell>
                    <TableHeaderCell>{t('items.col.lastBackup')}</TableHeaderCell>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {upcoming.map((v) => (
                    <TableRow key={v.id}>
                      <TableCell>
                        <PathText text={vmLabel(v)} />
                      </TableCell>
                      <TableCell>
                        <PathText text={v.policy ?? '—'} />
                      </TableCell>
                      <TableCell>
                        {formatDateTime(v.nextBackupAt!)}
                        {v.deferred && <Text className={panel.muted}>{` (${t('dashboard.deferred', { reason: t(deferredText[v.deferred]) })})`}</Text>}
                      </TableCell>
                      <TableCell>{v.lastBackupAt ? formatDateTime(v.lastBackupAt) : t('items.never')}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            )}
          </Card>
        </div>
      )}
    </Page>
  );
}
