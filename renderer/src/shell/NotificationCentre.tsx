import {
  Button,
  CounterBadge,
  Link,
  Popover,
  PopoverSurface,
  PopoverTrigger,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { Alert20Regular, CheckmarkCircle16Filled, DismissCircle16Filled, Info16Filled, Warning16Filled } from '@fluentui/react-icons';
import type { ReactElement } from 'react';
import { useI18n } from '../i18n/index.js';
import { hrefOf } from '../routes.js';
import { useNotifications, type NotifyIntent } from './notify.js';

const useStyles = makeStyles({
  trigger: {
    position: 'relative',
    color: tokens.colorNeutralForegroundOnBrand,
    ':hover': { color: tokens.colorNeutralForegroundOnBrand, backgroundColor: tokens.colorBrandBackgroundHover },
    ':hover:active': { color: tokens.colorNeutralForegroundOnBrand, backgroundColor: tokens.colorBrandBackgroundPressed },
  },
  wrap: { position: 'relative', display: 'inline-flex' },
  badge: { position: 'absolute', top: '2px', right: '0', pointerEvents: 'none' },
  surface: { width: '380px', maxHeight: '70vh', overflowY: 'auto', display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
  head: { display: 'flex', alignItems: 'center', justifyContent: 'space-between' },
  list: { listStyleType: 'none', margin: 0, padding: 0, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS },
  item: {
    display: 'grid',
    gridTemplateColumns: '20px 1fr',
    gap: tokens.spacingHorizontalS,
    padding: tokens.spacingVerticalS,
    borderRadius: tokens.borderRadiusMedium,
    backgroundColor: tokens.colorNeutralBackground2,
  },
  meta: { display: 'flex', gap: tokens.spacingHorizontalM, color: tokens.colorNeutralForeground2, alignItems: 'baseline' },
  body: { color: tokens.colorNeutralForeground2 },
  success: { color: tokens.colorPaletteGreenForeground1 },
  error: { color: tokens.colorPaletteRedForeground1 },
  warning: { color: tokens.colorPaletteDarkOrangeForeground1 },
  info: { color: tokens.colorBrandForeground1 },
});

export function NotificationCentre(): ReactElement {
  const { t, formatDateTime } = useI18n();
  const styles = useStyles();
  const { notices, unread, markRead, clear } = useNotifications();
  const icon = (intent: NotifyIntent) =>
    intent === 'success' ? (
      <CheckmarkCircle16Filled className={styles.success} />
    ) : intent === 'error' ? (
      <DismissCircle16Filled className={styles.error} />
    ) : intent === 'warning' ? (
      <Warning16Filled className={styles.warning} />
    ) : (
      <Info16Filled className={styles.info} />
    );
  return (
    <Popover onOpenChange={(_, data) => !data.open && markRead()} positioning="below-end" trapFocus>
      <span className={styles.wrap}>
        <PopoverTrigger disableButtonEnhancement>
          <Button
            appearance="transparent"
            className={styles.trigger}
            icon={<Alert20Regular />}
            aria-label={unread > 0 ? t('notify.centreUnread', { count: unread }) : t('notify.centre')}
          />
        </PopoverTrigger>
        {unread > 0 && <CounterBadge className={styles.badge} count={unread} size="small" color="danger" aria-hidden />}
      </span>
      <PopoverSurface className={styles.surface} aria-label={t('notify.centre')}>
        <div className={styles.head}>
          <Text as="h2" weight="semibold" size={400}>
            {t('notify.centre')}
          </Text>
          {notices.length > 0 && (
            <Button size="small" appearance="subtle" onClick={clear}>
              {t('notify.clear')}
            </Button>
          )}
        </div>
        {notices.length === 0 ? (
          <Text className={styles.body}>{t('notify.empty')}</Text>
        ) : (
          <ul className={styles.list}>
            {notices.map((n) => (
              <li key={n.id} className={styles.item}>
                <span aria-hidden>{icon(n.intent)}</span>
                <div>
                  <Text weight="semibold" block>
                    {n.title}
                  </Text>
                  {n.body && (
                    <Text size={200} block className={styles.body}>
                      {n.body}
                    </Text>
                  )}
                  <div className={styles.meta}>
                    <Text size={200}>{formatDateTime(n.at)}</Text>
                    {n.jobId !== undefined && (
                      <Link href={hrefOf('jobs', { id: String(n.jobId) })}>{t('notify.viewJob')}</Link>
                    )}
                  </div>
                </div>
              </li>
            ))}
          </ul>
        )}
      </PopoverSurface>
    </Popover>
  );
}
