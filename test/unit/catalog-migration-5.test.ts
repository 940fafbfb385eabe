import Database from 'better-sqlite3';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG_FILE, openCatalog } from '../../main/core/catalog/catalog.js';
import { migrations } from '../../main/core/catalog/migrations.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

describe('catalog migration 5 (the catalog follows the vault)', () => {
  it('keeps every VM of an older catalog, protection included, and lets a VM have no source', () => {
    const dir = tmp();
    const old = new Database(path.join(dir, CATALOG_FILE));
    old.pragma('foreign_keys = ON');
    for (const m of migrations.slice(0, 4)) m(old);
    old.pragma('user_version = 4');
    old.exec(`
      INSERT INTO vaults (id, name, region, location, format_version, created_at) VALUES ('v1', 'vault-a', 'r1', '/v', 1, 'now');
      INSERT INTO policies (id, vault_id, name, builtin, spec, created_at) VALUES ('p1', 'v1', 'DefaultPolicy', 1, '{}', 'now');
      INSERT INTO sources (id, name, kind, target, region, created_at) VALUES ('s1', 'lab', 'folder', '/src', 'r1', 'now');
      INSERT INTO vms (id, source_id, stable_id, name, cloud_service, region, vault_id, registration_state, protection_state, policy_id, last_backup_at, disks)
        VALUES ('vm1', 's1', 'uuid-1', 'web01', 'shop', 'r1', 'v1', 'Registered', 'Protected', 'p1', '2026-01-01', '[{"path":"/src/web01.img"}]');
    `);
    old.close();

    const db = openCatalog(dir);
    expect(db.prepare('SELECT id, source_id, stable_id, name, vault_id, protection_state, policy_id, last_backup_at, disks, pending_policy_id FROM vms').all()).toEqual([
      { id: 'vm1', source_id: 's1', stable_id: 'uuid-1', name: 'web01', vault_id: 'v1', protection_state: 'Protected', policy_id: 'p1', last_backup_at: '2026-01-01', disks: '[{"path":"/src/web01.img"}]', pending_policy_id: null },
    ]);
    db.prepare("INSERT INTO vms (id, source_id, stable_id, name, region, vault_id, protection_state) VALUES ('vm2', NULL, '', 'db01', 'r1', 'v1', 'BackupDataOnly')").run();
    expect(db.prepare('SELECT count(*) FROM vms').pluck().get()).toBe(2);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'vms' AND name LIKE 'vms_%' ORDER BY name").pluck().all()).toEqual([
      'vms_name',
      'vms_policy',
      'vms_source',
      'vms_vault',
    ]);
    db.close();
  });
});
