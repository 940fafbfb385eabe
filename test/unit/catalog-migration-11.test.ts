import Database from 'better-sqlite3';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG_FILE, openCatalog } from '../../main/core/catalog/catalog.js';
import { migrations } from '../../main/core/catalog/migrations.js';
import { errorOf, unwrap } from '../helpers/cli.js';
import { useEngines } from '../helpers/engine.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const open = useEngines();

/** A catalog as Coffer wrote it at schema version 7, with folder-source VMs under the old rule. */
function catalogAt7(dir: string, hv: string): void {
  const old = new Database(path.join(dir, CATALOG_FILE));
  old.pragma('foreign_keys = ON');
  for (const m of migrations.slice(0, 7)) m(old);
  old.pragma('user_version = 7');
  const vm = old.prepare(
    `INSERT INTO vms (id, source_id, stable_id, name, cloud_service, region, vault_id, registration_state, kind, definition_path, disks)
     VALUES (@id, @source, @stable, @name, @cs, 'r1', @vault, @state, @kind, @def, @disks)`,
  );
  const disks = (...files: string[]) => JSON.stringify(files.map((f) => ({ name: path.basename(f), path: path.join(hv, f), format: 'raw', exists: true, role: 'disk' })));
  old.exec(`
    INSERT INTO vaults (id, name, region, location, format_version, created_at) VALUES ('v1', 'vault-a', 'r1', '/v', 1, 'now');
    INSERT INTO sources (id, name, kind, target, region, created_at) VALUES ('s1', 'hv', 'folder', '${hv}', 'r1', 'now');
    INSERT INTO sources (id, name, kind, target, region, created_at) VALUES ('s2', 'kvm', 'libvirt', 'qemu:///system', 'r1', 'now');
  `);
  const rows = [
    // One folder per VM: lab/web01/web01.vbox and lab/db01/db01.vmx were lab/web01 and lab/db01/db01.
    { id: 'web-lab', source: 's1', stable: 'u1', name: 'web01', cs: 'lab/web01', vault: 'v1', state: 'Registered', kind: 'virtualbox', def: path.join(hv, 'lab/web01/web01.vbox'), disks: disks('lab/web01/web01.vdi') },
    { id: 'db-lab', source: 's1', stable: 'u2', name: 'db01', cs: 'lab/db01', vault: null, state: null, kind: 'vmware', def: path.join(hv, 'lab/db01/db01.vmx'), disks: disks('lab/db01/db01.vmdk') },
    { id: 'web-shop', source: 's1', stable: 'u3', name: 'web01', cs: 'shop/web01', vault: 'v1', state: 'Registered', kind: 'libvirt', def: path.join(hv, 'shop/web01/web01.xml'), disks: disks('shop/web01/web01.qcow2') },
    // A folder with two VMs and a folder of bare images keep their labels.
    { id: 'app1', source: 's1', stable: 'u4', name: 'app1', cs: 'farm', vault: null, state: null, kind: 'libvirt', def: path.join(hv, 'farm/app1.xml'), disks: disks('farm/app1.img') },
    { id: 'app2', source: 's1', stable: 'u5', name: 'app2', cs: 'farm', vault: null, state: null, kind: 'libvirt', def: path.join(hv, 'farm/app2.xml'), disks: disks('farm/app2.img') },
    { id: 'cache', source: 's1', stable: 'shop/cache', name: 'cache', cs: 'shop', vault: null, state: null, kind: 'images', def: null, disks: disks('shop/cache/disk.img') },
    // Not a folder source: its label is the host's, untouched.
    { id: 'kvm-web', source: 's2', stable: 'u6', name: 'web01', cs: 'lab/kvm', vault: null, state: null, kind: 'libvirt', def: null, disks: '[]' },
  ];
  for (const r of rows) vm.run(r);
  old.exec(`
    INSERT INTO jobs (operation, status, vault_id, vault_name, vm_id, vm_name, cloud_service, created_at) VALUES ('Register', 'Completed', 'v1', 'vault-a', 'web-lab', 'web01', 'lab/web01', '2026-01-01T00:00:00Z');
  `);
  old.close();
}

describe('catalog migration 11 (a VM in its own folder is named by the folder above)', () => {
  it('relabels the folder-source VMs of a version 7 catalog and their jobs, and keeps the old labels as aliases', () => {
    const dir = tmp();
    const hv = path.join(tmp(), 'hv');
    catalogAt7(dir, hv);
    const db = openCatalog(dir);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(db.prepare('SELECT id, cloud_service, name FROM vms ORDER BY id').all()).toEqual([
      { id: 'app1', cloud_service: 'farm', name: 'app1' },
      { id: 'app2', cloud_service: 'farm', name: 'app2' },
      { id: 'cache', cloud_service: 'shop', name: 'cache' },
      { id: 'db-lab', cloud_service: 'lab', name: 'db01' },
      { id: 'kvm-web', cloud_service: 'lab/kvm', name: 'web01' },
      { id: 'web-lab', cloud_service: 'lab', name: 'web01' },
      { id: 'web-shop', cloud_service: 'shop', name: 'web01' },
    ]);
    expect(db.prepare('SELECT vm_id, cloud_service FROM jobs').all()).toEqual([{ vm_id: 'web-lab', cloud_service: 'lab' }]);
    expect(db.prepare('SELECT vm_id, cloud_service, name FROM vm_label_aliases ORDER BY vm_id').all()).toEqual([
      { vm_id: 'db-lab', cloud_service: 'lab/db01', name: 'db01' },
      { vm_id: 'web-lab', cloud_service: 'lab/web01', name: 'web01' },
      { vm_id: 'web-shop', cloud_service: 'shop/web01', name: 'web01' },
    ]);
    db.close();
  });

  it('a reference with the old label still finds its VM; the new label names it from now on', async () => {
    const dir = tmp();
    catalogAt7(dir, path.join(tmp(), 'hv'));
    const { engine, router } = open(dir);
    // lab/web01/web01 was web01 of lab/web01; lab/web01 now names it.
    expect(engine.inventory.resolve('lab/web01/web01').id).toBe('web-lab');
    expect(engine.inventory.resolve('lab/db01/db01').id).toBe('db-lab');
    expect(engine.inventory.resolve('lab/web01').id).toBe('web-lab');
    expect(engine.inventory.resolve('lab/db01').id).toBe('db-lab');
    const jobs = unwrap(await router.invoke('listJobs', { vm: 'lab/web01/web01' }));
    expect(jobs.jobs.map((j) => [j.vmName, j.cloudService])).toEqual([['web01', 'lab']]);
    expect(errorOf(await router.invoke('unregisterVms', { vault: 'vault-a', vms: ['lab/nothing/web01'] })).code).toBe('VmNotFound');
  });
});
