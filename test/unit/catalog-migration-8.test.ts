import Database from 'better-sqlite3';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG_FILE, openCatalog } from '../../main/core/catalog/catalog.js';
import { migrations } from '../../main/core/catalog/migrations.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

describe('catalog migration 8 (where a point\'s retain-until came from)', () => {
  it('keeps every point of an older catalog, with no basis recorded, and stores one for new points', () => {
    const dir = tmp();
    const old = new Database(path.join(dir, CATALOG_FILE));
    old.pragma('foreign_keys = ON');
    for (const m of migrations.slice(0, 7)) m(old);
    old.pragma('user_version = 7');
    old.exec(`
      INSERT INTO vaults (id, name, region, location, format_version, created_at) VALUES ('v1', 'vault-a', 'r1', '/v', 1, 'now');
      INSERT INTO points (vault_id, id, vm_id, vm_name, created_at, consistency, retain_until, manual, logical_bytes, added_bytes, disks)
        VALUES ('v1', 'p1', NULL, 'web01', '2026-01-01T10:00:00.000Z', 'offline', '2026-01-31T10:00:00.000Z', 1, 10, 5, '[]');
    `);
    old.close();

    const db = openCatalog(dir);
    expect(db.prepare('SELECT id, retain_until, manual, retain_basis FROM points').all()).toEqual([
      { id: 'p1', retain_until: '2026-01-31T10:00:00.000Z', manual: 1, retain_basis: null },
    ]);
    db.prepare("UPDATE points SET retain_basis = ? WHERE id = 'p1'").run(JSON.stringify({ kind: 'chosen' }));
    expect(db.prepare('SELECT retain_basis FROM points').pluck().get()).toBe('{"kind":"chosen"}');
    db.close();
  });
});
