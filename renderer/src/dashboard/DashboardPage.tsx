import { Button, Card, CardHeader, Text, makeStyles, tokens } from '@fluentui/react-components';
import { Vault24Regular } from '@fluentui/react-icons';
import type { ReactElement } from 'react';
import { useApi } from '../api.js';
import { useT } from '../i18n/index.js';
import { hrefOf } from '../routes.js';
import { Page } from '../shell/Page.js';

const useStyles = makeStyles({
  cards: { display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(260px, 1fr))', gap: tokens.spacingHorizontalL },
});

export function DashboardPage(): ReactElement {
  const t = useT();
  const styles = useStyles();
  const vaults = useApi('listVaults', {}, { refreshOn: ['vaultsChanged'] });
  const count = vaults.data?.length;
  const summary =
    count === undefined ? t('common.loading') : count === 0 ? t('dashboard.vaultsNone') : count === 1 ? t('dashboard.vaultsOne') : t('dashboard.vaultsCount', { count });
  return (
    <Page title={t('dashboard.title')} intro={t('dashboard.intro')}>
      <div className={styles.cards}>
        <Card>
          <CardHeader image={<Vault24Regular aria-hidden />} header={<Text as="h2" weight="semibold">{t('dashboard.vaultsCard')}</Text>} description={<Text>{summary}</Text>} />
          <Button as="a" href={hrefOf('vaults')} appearance="secondary">
            {t('dashboard.goToVaults')}
          </Button>
        </Card>
      </div>
    </Page>
  );
}
