import { Button, MessageBar, MessageBarActions, MessageBarBody, MessageBarTitle, Text, makeStyles, tokens, typographyStyles } from '@fluentui/react-components';
import { useEffect, useRef, type ReactElement, type ReactNode } from 'react';
import { useI18n, type ErrorLike } from '../i18n/index.js';

const useStyles = makeStyles({
  page: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalL,
    padding: `${tokens.spacingVerticalXL} ${tokens.spacingHorizontalXXL}`,
    maxWidth: '1400px',
  },
  head: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS },
  title: { ...typographyStyles.title2, margin: 0, outlineStyle: 'none' },
  intro: { color: tokens.colorNeutralForeground2 },
  toolbar: { display: 'flex', gap: tokens.spacingHorizontalS, alignItems: 'center', flexWrap: 'wrap' },
});

/** Common page frame: a focusable h1 (focused on navigation for screen readers), an intro, a toolbar. */
export function Page({ title, intro, toolbar, children }: { title: string; intro?: string; toolbar?: ReactNode; children?: ReactNode }): ReactElement {
  const styles = useStyles();
  const heading = useRef<HTMLHeadingElement>(null);
  const { t } = useI18n();
  useEffect(() => {
    document.title = `${title} · ${t('app.name')}`;
  }, [title, t]);
  // Each page mounts on navigation: move focus to its heading so screen readers announce it.
  useEffect(() => {
    heading.current?.focus({ preventScroll: true });
  }, []);
  return (
    <section className={styles.page} aria-labelledby="page-title">
      <div className={styles.head}>
        <h1 id="page-title" ref={heading} tabIndex={-1} className={styles.title}>
          {title}
        </h1>
        {intro && <Text className={styles.intro}>{intro}</Text>}
      </div>
      {toolbar && <div className={styles.toolbar}>{toolbar}</div>}
      {children}
    </section>
  );
}

/** An engine error in the user's language with its next step, and an optional retry. */
export function ErrorBar({ error, onRetry, onDismiss }: { error: ErrorLike; onRetry?: () => void; onDismiss?: () => void }): ReactElement {
  const { t, errorText } = useI18n();
  const text = errorText(error);
  return (
    <MessageBar intent="error" layout="multiline">
      <MessageBarBody>
        <MessageBarTitle>{text.message}</MessageBarTitle> {t('common.remedy', { remedy: text.remedy })}
      </MessageBarBody>
      {(onRetry || onDismiss) && (
        <MessageBarActions>
          {onRetry && <Button onClick={onRetry}>{t('common.retry')}</Button>}
          {onDismiss && <Button onClick={onDismiss}>{t('common.dismiss')}</Button>}
        </MessageBarActions>
      )}
    </MessageBar>
  );
}
