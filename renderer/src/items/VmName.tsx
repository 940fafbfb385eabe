import { Badge, Text } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import type { Vm } from '../../../preload/contract.js';
import { useI18n } from '../i18n/index.js';

/** Names that occur more than once: those rows show their cloud service to tell them apart (W4, W9). */
export function duplicateNames(vms: readonly Pick<Vm, 'name'>[]): Set<string> {
  const seen = new Map<string, number>();
  for (const vm of vms) seen.set(vm.name.toLowerCase(), (seen.get(vm.name.toLowerCase()) ?? 0) + 1);
  return new Set([...seen].filter(([, n]) => n > 1).map(([name]) => name));
}

/** A VM's name, with its cloud service beside it when another VM in the same list has that name. */
export function VmName({ vm, duplicates }: { vm: Pick<Vm, 'name' | 'cloudService'>; duplicates: Set<string> }): ReactElement {
  const { t } = useI18n();
  return (
    <span>
      <Text weight="semibold">{vm.name}</Text>{' '}
      {duplicates.has(vm.name.toLowerCase()) && (
        <Badge appearance="outline" color="informative" size="small" title={t('items.cloudService')}>
          {vm.cloudService}
        </Badge>
      )}
    </span>
  );
}
