import {
  Badge,
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
import { Alert20Regular, CheckmarkCircle16Filled, DismissCircle16Filled, Warning16Filled } from '@fluentui/react-icons';
import type { ReactElement } from 'react';
import { useI18n } from '../i18n/index.js';
import { hrefOf } from '../routes.js';
import type { NotificationIntent } from '../../../preload/contract.js';
import { jobResultText, jobTitle, useNotifications } from './notify.js';

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
    overflowWrap: 'anywhere',
  },
  unreadItem: { boxShadow: `inset 3px 0 0 ${tokens.colorBrandStroke1}` },
  titleRow: { display: 'flex', gap: tokens.spacingHorizontalS, alignItems: 'baseline', justifyContent: 'space-between' },
  actions: { display: 'flex', gap: tokens.spacingHorizontalXS },
  meta: { display: 'flex', gap: tokens.spacingHorizontalM, color: tokens.colorNeutralForeground2, alignItems: 'baseline' },
  body: { color: tokens.colorNeutralForeground2 },
  success: { color: tokens.colorPaletteGreenForeground1 },
  error: { color: tokens.colorPaletteRedForeground1 },
  warning: { color: tokens.colorPaletteDarkOrangeForeground1 },
});

export function NotificationCentre(): ReactElement {
  const i18n = useI18n();
  const { t, formatDateTime } = i18n;
  const styles = useStyles();
  const { notices, unread, markRead, clear, refresh } = useNotifications();
  const icon = (intent: NotificationIntent) =>
    intent === 'success' ? (
      <CheckmarkCircle16Filled className={styles.success} />
    ) : intent === 'error' ? (
      <DismissCircle16Filled className={styles.error} />
    ) : (
      <Warning16Filled className={styles.warning} />
    );
  return (
    // Opening reads the host's list again (jobs of the CLI or another install send no event here);
    // closing marks what was shown read, on the host, for every page.
    <Popover onOpenChange={(_, data) => (data.open ? refresh() : markRead())} positioning="below-end" trapFocus>
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
          {/* Always there (focusable when disabled): the centre traps focus, and a surface with
              nothing to focus when it opens (empty, or its list still on its way after a reload)
              stays aria-hidden, to a screen reader and to the list that arrives. */}
          <span className={styles.actions}>
            <Button size="small" appearance="subtle" disabledFocusable={unread === 0} onClick={markRead}>
              {t('notify.markRead')}
            </Button>
            <Button size="small" appearance="subtle" disabledFocusable={notices.length === 0} onClick={clear}>
              {t('notify.clear')}
            </Button>
          </span>
        </div>
        {notices.length === 0 ? (
          <Text className={styles.body}>{t('notify.empty')}</Text>
        ) : (
          <ul className={styles.list}>
            {notices.map((n) => {
              const body = jobResultText(i18n, n.job);
              return (
                <li key={n.job.id} className={n.read ? styles.item : `${styles.item} ${styles.unreadItem}`}>
                  <span aria-hidden>{icon(n.intent)}</span>
                  <div>
                    <div className={styles.titleRow}>
                      <Text weight="semibold" block>
                        {jobTitle(i18n, n.job, 'finished')}
                      </Text>
                      {!n.read && (
                        <Badge size="small" appearance="tint" color="brand">
                          {t('notify.new')}
                        </Badge>
                      )}
                    </div>
                    {body && (
                      <Text size={200} block className={styles.body}>
                        {body}
                      </Text>
                    )}
                    <div className={styles.meta}>
                      {n.job.endedAt && <Text size={200}>{formatDateTime(n.job.endedAt)}</Text>}
                      <Link href={hrefOf('jobs', { id: String(n.job.id) })}>{t('notify.viewJob')}</Link>
                    </div>
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </PopoverSurface>
    </Popover>
  );
}
