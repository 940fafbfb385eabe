import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CofferError } from '../errors.js';
import { migrations } from './migrations.js';

export type Db = Database.Database;

export const CATALOG_FILE = 'catalog.sqlite';

/** The newest catalog schema this Coffer knows: the number of migrations. */
export const CATALOG_VERSION = migrations.length;

/**
 * Opens (and creates or migrates) the catalog of one console in `dataDir`. A catalog written by a
 * newer Coffer is refused untouched: an older build must never rewrite a schema it does not know.
 */
export function openCatalog(dataDir: string): Db {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, CATALOG_FILE);
  let db: Db;
  try {
    db = new Database(file);
  } catch (e) {
    throw new CofferError('CatalogUnreadable', `Cannot open the catalog ${file}: ${(e as Error).message}`);
  }
  try {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > CATALOG_VERSION) {
      throw new CofferError(
        'CatalogTooNew',
        `The catalog ${file} has schema version ${current}; this Coffer knows up to ${CATALOG_VERSION}.`,
        { found: current, supported: CATALOG_VERSION, file },
      );
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, current);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

function migrate(db: Db, from: number): void {
  for (let v = from; v < migrations.length; v++) {
    const step = migrations[v]!;
    // Each migration and its version bump commit together: a crash leaves the old version intact.
    db.transaction(() => {
      step(db);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
