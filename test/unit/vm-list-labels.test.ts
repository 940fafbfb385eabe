import { describe, expect, it } from 'vitest';
import { vmListLabels } from '../../preload/contract.js';

// The one rule every dialog, confirmation and CLI list uses to name VMs among others.
describe('vmListLabels', () => {
  const labWeb = { id: 'a', name: 'web01', cloudService: 'lab' };
  const shopWeb = { id: 'b', name: 'web01', cloudService: 'shop' };
  const db = { id: 'c', name: 'db01', cloudService: 'lab' };

  it('names a VM by its name alone when no other VM shown or known has it', () => {
    expect(vmListLabels([labWeb, db])).toEqual(['web01', 'db01']);
    expect(vmListLabels([db], [labWeb, shopWeb, db])).toEqual(['db01']);
  });

  it('gives cloudservice/name when the name repeats among what is shown or known (case-insensitive)', () => {
    expect(vmListLabels([labWeb, shopWeb, db])).toEqual(['lab/web01', 'shop/web01', 'db01']);
    // Only lab/web01 is chosen, but the page also shows shop/web01: "web01" would not say which.
    expect(vmListLabels([labWeb], [labWeb, shopWeb, db])).toEqual(['lab/web01']);
    expect(vmListLabels([labWeb], [{ id: 'd', name: 'WEB01', cloudService: 'dmz' }])).toEqual(['lab/web01']);
  });

  it('does not count one VM twice when it is both shown and known', () => {
    expect(vmListLabels([labWeb], [labWeb, db])).toEqual(['web01']);
  });
});
