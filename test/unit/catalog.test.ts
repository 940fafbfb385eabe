import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG_FILE, CATALOG_VERSION, openCatalog } from '../../main/core/catalog/catalog.js';
import { isCofferError } from '../../main/core/errors.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();

describe('catalog', () => {
  it('creates a WAL-mode SQLite file at the newest schema version', () => {
    const dir = path.join(tmp(), 'nested', 'data');
    const db = openCatalog(dir);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(CATALOG_VERSION);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['policies', 'vaults', 'vms']));
    db.close();
    expect(fs.existsSync(path.join(dir, CATALOG_FILE))).toBe(true);
  });

  it('keeps data across reopen and does not migrate twice', () => {
    const dir = tmp();
    const db = openCatalog(dir);
    db.prepare("INSERT INTO vaults (id, name, region, location, format_version, created_at) VALUES ('v1', 'a', 'r', '/x', 1, 'now')").run();
    db.close();
    const again = openCatalog(dir);
    expect(again.prepare('SELECT name FROM vaults').pluck().all()).toEqual(['a']);
    again.close();
  });

  it('refuses a catalog from a newer Coffer and leaves it untouched', () => {
    const dir = tmp();
    const file = path.join(dir, CATALOG_FILE);
    const newer = new Database(file);
    newer.exec('CREATE TABLE future_things (x TEXT)');
    newer.pragma(`user_version = ${CATALOG_VERSION + 5}`);
    newer.close();
    const before = fs.readFileSync(file);

    let caught: unknown;
    try {
      openCatalog(dir);
    } catch (e) {
      caught = e;
    }
    expect(isCofferError(caught, 'CatalogTooNew')).toBe(true);
    expect((caught as Error).message).toContain(String(CATALOG_VERSION + 5));
    expect(fs.readFileSync(file).equals(before)).toBe(true);

    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(CATALOG_VERSION + 5);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type='table'").pluck().all()).toEqual(['future_things']);
    check.close();
  });

  it('upgrades an older catalog step by step from version 0', () => {
    const dir = tmp();
    const file = path.join(dir, CATALOG_FILE);
    new Database(file).close();
    const db = openCatalog(dir);
    expect(db.pragma('user_version', { simple: true })).toBe(CATALOG_VERSION);
    db.close();
  });
});
