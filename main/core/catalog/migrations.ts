import type Database from 'better-sqlite3';
import * as path from 'node:path';
import { folderCloudServices } from '../sources/folder.js';

/**
 * Numbered catalog migrations: index 0 takes version 0 to 1, and so on. Append only; never edit
 * a migration that has shipped.
 */
export const migrations: ReadonlyArray<(db: Database.Database) => void> = [
  // 1: vaults opened in this console and their policies; VMs as far as the vault rules need them.
  (db) => {
    db.exec(`
      CREATE TABLE vaults (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        region TEXT NOT NULL,
        location TEXT NOT NULL UNIQUE,
        backend TEXT NOT NULL DEFAULT 'local',
        format_version INTEGER NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE policies (
        id TEXT PRIMARY KEY,
        vault_id TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
        name TEXT NOT NULL COLLATE NOCASE,
        builtin INTEGER NOT NULL DEFAULT 0,
        spec TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (vault_id, name)
      );
      CREATE TABLE vms (
        id TEXT PRIMARY KEY,
        source_id TEXT NOT NULL,
        stable_id TEXT NOT NULL,
        name TEXT NOT NULL,
        cloud_service TEXT NOT NULL DEFAULT '',
        region TEXT NOT NULL,
        vault_id TEXT REFERENCES vaults(id),
        registration_state TEXT,
        UNIQUE (source_id, stable_id)
      );
      CREATE INDEX vms_vault ON vms(vault_id);
    `);
  },

  // 2: the job log (W13, W19). Keyset pages run on id; one index per Jobs-page filter.
  (db) => {
    db.exec(`
      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        operation TEXT NOT NULL,
        status TEXT NOT NULL,
        vault_id TEXT,
        vault_name TEXT,
        vm_id TEXT,
        vm_name TEXT,
        cloud_service TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        bytes_done INTEGER NOT NULL DEFAULT 0,
        bytes_total INTEGER NOT NULL DEFAULT 0,
        progress REAL NOT NULL DEFAULT 0,
        bytes_per_second REAL NOT NULL DEFAULT 0,
        catch_up INTEGER NOT NULL DEFAULT 0,
        summary TEXT,
        error_code TEXT,
        error_message TEXT,
        error_remedy TEXT,
        warnings TEXT NOT NULL DEFAULT '[]',
        details TEXT NOT NULL DEFAULT '{}',
        owner_pid INTEGER
      );
      CREATE INDEX jobs_created ON jobs(created_at);
      CREATE INDEX jobs_status ON jobs(status, id);
      CREATE INDEX jobs_operation ON jobs(operation, id);
      CREATE INDEX jobs_vault ON jobs(vault_id, id);
      CREATE INDEX jobs_vm ON jobs(vm_id, id);
      CREATE INDEX jobs_active ON jobs(id) WHERE status IN ('Queued', 'InProgress', 'Cancelling');
    `);
  },

  // 3: sources and what discovery learns about VMs.
  (db) => {
    db.exec(`
      CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        region TEXT NOT NULL,
        cloud_service_label TEXT,
        state TEXT NOT NULL DEFAULT 'unknown',
        message TEXT NOT NULL DEFAULT '',
        last_scan_at TEXT,
        created_at TEXT NOT NULL
      );
      ALTER TABLE vms ADD COLUMN kind TEXT NOT NULL DEFAULT 'images';
      ALTER TABLE vms ADD COLUMN power_state TEXT NOT NULL DEFAULT 'unknown';
      ALTER TABLE vms ADD COLUMN definition_path TEXT;
      ALTER TABLE vms ADD COLUMN disks TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE vms ADD COLUMN guest_agent INTEGER;
      ALTER TABLE vms ADD COLUMN problems TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE vms ADD COLUMN last_seen_at TEXT;
      ALTER TABLE vms ADD COLUMN missing INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE vms ADD COLUMN protection_state TEXT;
      CREATE INDEX vms_source ON vms(source_id);
      CREATE INDEX vms_name ON vms(name);
    `);
  },

  // 4: protection (policy per VM, last backup) and the recovery point cache of each vault.
  (db) => {
    db.exec(`
      ALTER TABLE vms ADD COLUMN policy_id TEXT REFERENCES policies(id);
      ALTER TABLE vms ADD COLUMN protected_at TEXT;
      ALTER TABLE vms ADD COLUMN last_backup_at TEXT;
      ALTER TABLE vms ADD COLUMN last_backup_status TEXT;
      ALTER TABLE vms ADD COLUMN last_attempt_at TEXT;
      CREATE INDEX vms_policy ON vms(policy_id);
      CREATE TABLE points (
        vault_id TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        vm_id TEXT,
        vm_name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        consistency TEXT NOT NULL,
        retain_until TEXT,
        manual INTEGER NOT NULL DEFAULT 0,
        logical_bytes INTEGER NOT NULL,
        added_bytes INTEGER NOT NULL,
        disks TEXT NOT NULL,
        PRIMARY KEY (vault_id, id)
      );
      CREATE INDEX points_vm ON points(vm_id, created_at);
      CREATE TABLE vault_keys (
        vault_id TEXT PRIMARY KEY REFERENCES vaults(id) ON DELETE CASCADE,
        key_file TEXT NOT NULL
      );
    `);
  },

  // 5: the catalog follows the vault (issue 11). A VM known only from a vault's recovery points
  // ("Backup data only") has no source, so vms.source_id becomes nullable (SQLite: rebuild the
  // table). pending_policy_id holds a protection recorded in the vault that this install has not
  // confirmed yet (a rebuilt install resumes scheduled backups only after the admin says so).
  // policy_sync: each policy as this install last read it from or wrote it to the vault, so a
  // reconcile tells a local edit (catalog differs) from a remote one (record differs), and a policy
  // deleted here (sync row without policy) from one that is new in the vault.
  (db) => {
    db.exec(`
      CREATE TABLE vms_new (
        id TEXT PRIMARY KEY,
        source_id TEXT,
        stable_id TEXT NOT NULL,
        name TEXT NOT NULL,
        cloud_service TEXT NOT NULL DEFAULT '',
        region TEXT NOT NULL,
        vault_id TEXT REFERENCES vaults(id),
        registration_state TEXT,
        kind TEXT NOT NULL DEFAULT 'images',
        power_state TEXT NOT NULL DEFAULT 'unknown',
        definition_path TEXT,
        disks TEXT NOT NULL DEFAULT '[]',
        guest_agent INTEGER,
        problems TEXT NOT NULL DEFAULT '[]',
        last_seen_at TEXT,
        missing INTEGER NOT NULL DEFAULT 0,
        protection_state TEXT,
        policy_id TEXT REFERENCES policies(id),
        protected_at TEXT,
        last_backup_at TEXT,
        last_backup_status TEXT,
        last_attempt_at TEXT,
        pending_policy_id TEXT,
        UNIQUE (source_id, stable_id)
      );
      INSERT INTO vms_new (id, source_id, stable_id, name, cloud_service, region, vault_id, registration_state, kind, power_state,
        definition_path, disks, guest_agent, problems, last_seen_at, missing, protection_state, policy_id, protected_at,
        last_backup_at, last_backup_status, last_attempt_at)
      SELECT id, source_id, stable_id, name, cloud_service, region, vault_id, registration_state, kind, power_state,
        definition_path, disks, guest_agent, problems, last_seen_at, missing, protection_state, policy_id, protected_at,
        last_backup_at, last_backup_status, last_attempt_at FROM vms;
      DROP TABLE vms;
      ALTER TABLE vms_new RENAME TO vms;
      CREATE INDEX vms_vault ON vms(vault_id);
      CREATE INDEX vms_source ON vms(source_id);
      CREATE INDEX vms_name ON vms(name);
      CREATE INDEX vms_policy ON vms(policy_id);
      CREATE TABLE policy_sync (
        vault_id TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
        policy_id TEXT NOT NULL,
        synced TEXT NOT NULL,
        PRIMARY KEY (vault_id, policy_id)
      );
    `);
  },
  // 6 (sources, issue 10 item 8): what a folder source may read besides its folder, and the disk
  // paths the admin approved for each VM (first seen at a scan; a rescan that moves them holds the
  // VM's backups until the admin approves again).
  (db) => {
    db.exec(`
      ALTER TABLE sources ADD COLUMN allowed_roots TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE sources ADD COLUMN allow_block_devices INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE vms ADD COLUMN approved_disk_paths TEXT;
    `);
  },
  // 7 (issue 11, object storage): a vault on Azure Blob or S3 may take its credentials from a
  // JSON file the admin names; the catalog keeps only that file's PATH (never a key or token).
  // vaults.backend becomes the storage kind: folder, azure or s3.
  (db) => {
    db.exec(`
      ALTER TABLE vaults ADD COLUMN credentials_file TEXT;
      UPDATE vaults SET backend = 'folder' WHERE backend = 'local';
    `);
  },
  // 8 (issue 12, kept until): where a point's retain-until came from, as JSON (RetainUntilBasis):
  // the date the admin gave or the Backup Now default with its days. NULL: not recorded (points
  // written before, or read from a vault another install wrote).
  (db) => {
    db.exec(`ALTER TABLE points ADD COLUMN retain_basis TEXT;`);
  },
  // 9 (issue 12, jobs): what started a job (manual, scheduled, catchUp, system) replaces the
  // catch_up flag. Old rows: catch-ups as flagged, retention prunes are the engine's, a backup
  // that made a scheduled point or was refused before it ran (only the scheduler logs those) was
  // scheduled; the rest were started by an admin. Summaries become JSON job messages from now
  // on; old plain-text summaries stay as they are and read as LegacyText.
  (db) => {
    db.exec(`
      ALTER TABLE jobs ADD COLUMN trigger_kind TEXT NOT NULL DEFAULT 'manual';
      UPDATE jobs SET trigger_kind = 'catchUp' WHERE catch_up = 1;
      UPDATE jobs SET trigger_kind = 'system' WHERE operation = 'Prune';
      UPDATE jobs SET trigger_kind = 'scheduled'
        WHERE trigger_kind = 'manual' AND operation = 'Backup' AND (
          (status = 'Failed' AND started_at = created_at AND ended_at = created_at)
          OR EXISTS (SELECT 1 FROM points WHERE points.id = json_extract(jobs.details, '$.pointId') AND points.manual = 0)
        );
      ALTER TABLE jobs DROP COLUMN catch_up;
      CREATE INDEX jobs_trigger ON jobs(trigger_kind, id);
    `);
  },
  // 10 (issue 12, notifications from the job log): the admin's read state, kept on the host so it
  // survives reloads and every page sees the same. Two marks, each a point in the order of
  // (ended_at, id): 'read' (everything up to it was seen) and 'cleared' (hidden from the list).
  // Jobs that ended before this migration count as read: an upgrade shows history, not news.
  (db) => {
    db.exec(`
      CREATE TABLE notification_marks (
        name TEXT PRIMARY KEY CHECK (name IN ('read', 'cleared')),
        ended_at TEXT NOT NULL,
        job_id INTEGER NOT NULL
      );
      CREATE INDEX jobs_ended ON jobs(ended_at, id) WHERE ended_at IS NOT NULL;
    `);
    const last = db.prepare('SELECT ended_at, id FROM jobs WHERE ended_at IS NOT NULL ORDER BY ended_at DESC, id DESC LIMIT 1').get() as
      | { ended_at: string; id: number }
      | undefined;
    if (last) db.prepare("INSERT INTO notification_marks (name, ended_at, job_id) VALUES ('read', ?, ?)").run(last.ended_at, last.id);
  },
  // 11 (issue 12): a folder source names a VM in its own folder by the folder above (lab/web01,
  // not lab/web01/web01; folderCloudServices). The stored labels of folder-source VMs, and of their
  // jobs, follow the new rule; each old label is kept in vm_label_aliases so a reference written
  // before (a script, a habit) still finds its VM.
  (db) => {
    db.exec(`
      CREATE TABLE vm_label_aliases (
        vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
        cloud_service TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (vm_id, cloud_service, name)
      );
      CREATE INDEX vm_label_aliases_label ON vm_label_aliases(name, cloud_service);
    `);
    const sources = db.prepare("SELECT id, target FROM sources WHERE kind = 'folder'").all() as { id: string; target: string }[];
    const rows = db.prepare('SELECT id, stable_id, name, cloud_service, kind, definition_path, disks FROM vms WHERE source_id = ?');
    const relabel = db.prepare('UPDATE vms SET cloud_service = ? WHERE id = ?');
    const relabelJobs = db.prepare('UPDATE jobs SET cloud_service = ? WHERE vm_id = ? AND cloud_service = ?');
    const alias = db.prepare('INSERT OR IGNORE INTO vm_label_aliases (vm_id, cloud_service, name) VALUES (?, ?, ?)');
    for (const source of sources) {
      const vms = rows.all(source.id) as { id: string; stable_id: string; name: string; cloud_service: string; kind: string; definition_path: string | null; disks: string }[];
      const places = vms.map((vm) => {
        const disks = (JSON.parse(vm.disks) as { path?: unknown }[]).flatMap((d) => (typeof d.path === 'string' ? [d.path] : []));
        return {
          name: vm.name,
          isFolder: vm.kind === 'images',
          home: vm.definition_path ? path.dirname(vm.definition_path) : path.join(source.target, vm.stable_id),
          definitionPath: vm.definition_path ?? undefined,
          files: [...(vm.definition_path ? [vm.definition_path] : []), ...disks],
        };
      });
      const services = folderCloudServices(source.target, places);
      vms.forEach((vm, i) => {
        const now = services[i]!;
        // A VM without definition that is not a folder of images cannot be placed: it keeps its label.
        if (now === vm.cloud_service || (!vm.definition_path && vm.kind !== 'images')) return;
        relabel.run(now, vm.id);
        relabelJobs.run(now, vm.id, vm.cloud_service);
        alias.run(vm.id, vm.cloud_service, vm.name);
      });
    }
  },
];
