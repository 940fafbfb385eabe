// The multi-select VM table of the Register picker (W4) and the Protect wizard (W9): equal names
// show their cloud service so the admin can tell them apart.
import { Checkbox, Table, TableBody, TableCell, TableHeader, TableHeaderCell, TableRow } from '@fluentui/react-components';
import { useMemo, type ReactElement } from 'react';
import { diskCount, vmLabel, type Vm } from '../../../preload/contract.js';
import { useT } from '../i18n/index.js';
import { VmName, duplicateNames } from './VmName.js';

export interface VmPickTableProps {
  label: string;
  vms: Vm[];
  selected: ReadonlySet<string>;
  onChange: (selected: Set<string>) => void;
  /** Also show how many disks each VM has. */
  showDisks?: boolean;
}

export function VmPickTable({ label, vms, selected, onChange, showDisks = false }: VmPickTableProps): ReactElement {
  const t = useT();
  const dups = useMemo(() => duplicateNames(vms), [vms]);
  const toggle = (id: string, on: boolean): void => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    onChange(next);
  };
  return (
    <Table aria-label={label} size="small">
      <TableHeader>
        <TableRow>
          <TableHeaderCell style={{ width: '44px' }}>
            <Checkbox
              aria-label={t('register.selectAll')}
              checked={vms.length > 0 && selected.size === vms.length ? true : selected.size > 0 ? 'mixed' : false}
              onChange={(_, d) => onChange(d.checked === true ? new Set(vms.map((v) => v.id)) : new Set())}
            />
          </TableHeaderCell>
          <TableHeaderCell>{t('items.col.name')}</TableHeaderCell>
          <TableHeaderCell>{t('items.cloudService')}</TableHeaderCell>
          <TableHeaderCell>{t('items.col.source')}</TableHeaderCell>
          <TableHeaderCell>{t('items.col.power')}</TableHeaderCell>
          {showDisks && <TableHeaderCell>{t('items.col.disks')}</TableHeaderCell>}
        </TableRow>
      </TableHeader>
      <TableBody>
        {vms.map((vm) => (
          <TableRow key={vm.id}>
            <TableCell>
              <Checkbox
                checked={selected.has(vm.id)}
                onChange={(_, d) => toggle(vm.id, d.checked === true)}
                aria-label={t('register.selectVm', { name: vmLabel(vm) })}
              />
            </TableCell>
            <TableCell>
              <VmName vm={vm} duplicates={dups} />
            </TableCell>
            <TableCell>{vm.cloudService}</TableCell>
            <TableCell>{vm.sourceName}</TableCell>
            <TableCell>{vm.powerState}</TableCell>
            {showDisks && <TableCell>{diskCount(vm)}</TableCell>}
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
