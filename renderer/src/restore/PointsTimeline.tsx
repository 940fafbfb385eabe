// The recovery points of one VM on a time axis, coloured by the retention tier that keeps each
// (W23). The table below it stays the accessible, exact view; this is the overview.
import { makeStyles, tokens } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import type { KeptUntil, RecoveryPoint } from '../../../preload/contract.js';
import { useI18n, type I18n, type MessageKey } from '../i18n/index.js';

const TIERS = ['yearly', 'monthly', 'weekly', 'daily', 'retain-until', 'latest'] as const;
const COLORS: Record<(typeof TIERS)[number] | 'none', string> = {
  yearly: tokens.colorPaletteBerryForeground2,
  monthly: tokens.colorPaletteDarkOrangeForeground2,
  weekly: tokens.colorPaletteGreenForeground2,
  daily: tokens.colorBrandForeground1,
  'retain-until': tokens.colorPaletteMarigoldForeground2,
  latest: tokens.colorNeutralForeground3,
  none: tokens.colorNeutralForegroundDisabled,
};
const tierKey = (tier: string): MessageKey => (tier === 'retain-until' ? 'points.tier.retainUntil' : (`points.tier.${tier}` as MessageKey));

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS, padding: `${tokens.spacingVerticalM} ${tokens.spacingHorizontalL}` },
  legend: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalM, fontSize: tokens.fontSizeBase200, color: tokens.colorNeutralForeground2 },
  swatch: { display: 'inline-block', width: '10px', height: '10px', borderRadius: '50%', marginRight: tokens.spacingHorizontalXS },
  svg: { width: '100%', height: '56px', overflow: 'visible' },
  point: { cursor: 'pointer' },
});

/** "Backup now, until 31 Dec 2026 (default: 30 days, ...)": the core's instant and the reason for it. */
export function keptUntilText(t: I18n['t'], kept: KeptUntil, date: string): string {
  const b = kept.basis;
  if (b.kind === 'default') return t(b.from === 'daily' ? 'points.keptUntil.default' : 'points.keptUntil.fallback', { date, days: b.days });
  if (b.kind === 'chosen') return t('points.keptUntil.chosen', { date });
  return t('points.keptUntil.unknown', { date });
}

export function PointsTimeline({ points, onPick }: { points: RecoveryPoint[]; onPick: (p: RecoveryPoint) => void }): ReactElement {
  const { t, formatDateTime, formatDate } = useI18n();
  const styles = useStyles();
  const times = points.map((p) => Date.parse(p.created));
  const min = Math.min(...times);
  const max = Math.max(...times);
  const span = Math.max(1, max - min);
  // The strongest tier that keeps a point names its colour; a point kept by nothing is grey.
  const tierOf = (p: RecoveryPoint) => TIERS.find((tier) => p.keptBy.includes(tier)) ?? 'none';
  const used = TIERS.filter((tier) => points.some((p) => tierOf(p) === tier));
  return (
    <div className={styles.root}>
      <svg className={styles.svg} viewBox="0 0 1000 56" preserveAspectRatio="none" role="img" aria-label={t('points.timelineLabel', { count: points.length, from: formatDate(new Date(min).toISOString()), to: formatDate(new Date(max).toISOString()) })}>
        <line x1="10" x2="990" y1="24" y2="24" stroke={tokens.colorNeutralStroke1} strokeWidth="2" />
        {points.map((p) => {
          const x = 10 + ((Date.parse(p.created) - min) / span) * 980;
          return (
            <circle key={p.id} className={styles.point} cx={x} cy="24" r={p.manual ? 6 : 5} fill={COLORS[tierOf(p)]} stroke={tokens.colorNeutralBackground1} strokeWidth="1.5" onClick={() => onPick(p)}>
              <title>
                {`${formatDateTime(p.created)} · ${p.keptBy.map((k) => t(tierKey(k))).join(', ') || t('points.keptByNothing')}`}
                {p.keptBy.includes('retain-until') && p.keptUntil ? ` · ${keptUntilText(t, p.keptUntil, formatDateTime(p.keptUntil.until))}` : ''}
              </title>
            </circle>
          );
        })}
        <text x="10" y="52" fontSize="11" fill={tokens.colorNeutralForeground3}>
          {formatDate(new Date(min).toISOString())}
        </text>
        <text x="990" y="52" fontSize="11" textAnchor="end" fill={tokens.colorNeutralForeground3}>
          {formatDate(new Date(max).toISOString())}
        </text>
      </svg>
      <div className={styles.legend} aria-hidden>
        {used.map((tier) => (
          <span key={tier}>
            <span className={styles.swatch} style={{ background: COLORS[tier] }} />
            {t(tierKey(tier))}
          </span>
        ))}
      </div>
    </div>
  );
}
