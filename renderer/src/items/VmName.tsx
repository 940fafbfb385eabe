import { Badge, Text } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import { repeatedVmNames, vmListLabels, type Vm, type VmNameParts } from '../../../preload/contract.js';
import { useI18n } from '../i18n/index.js';

/** Names that occur more than once: those rows show their cloud service to tell them apart (W4, W9). */
export function duplicateNames(vms: readonly VmNameParts[]): Set<string> {
  return repeatedVmNames(vms);
}

/**
 * The VMs a dialog or confirmation names, as one text ("lab/web01, db01"): the contract's one
 * rule (vmListLabels), judged among the VMs the page shows (`known`) as well.
 */
export function vmNames(shown: readonly VmNameParts[], known: readonly VmNameParts[] = []): string {
  return vmListLabels(shown, known).join(', ');
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
