// Job results as message codes: every code renders in English (CLI, tray), in the console's
// English and Dutch, and a catalog written before codes existed still shows its old texts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  englishFormat,
  JobMessage,
  jobMessageText,
  type Job,
  type JobMessageCode,
  type JobMessageParams,
  type MessageFormat,
} from '../../preload/contract.js';
import { describeJob, jobText } from '../../main/cli/io.js';
import { CATALOG_FILE, openCatalog, type Db } from '../../main/core/catalog/catalog.js';
import { migrations } from '../../main/core/catalog/migrations.js';
import { EngineEvents } from '../../main/core/events.js';
import { JobService } from '../../main/core/jobs.js';
import { translateJobMessage, translatePlural, translateWarning } from '../../renderer/src/i18n/index.js';
import { useTmp } from '../helpers/tmp.js';

// One sample per code: a code added to the contract without a sample here fails the typecheck.
const samples: { [C in JobMessageCode]: JobMessageParams<C> } = {
  LegacyText: { text: 'Recovery point 20260101: 1 disk(s), 8.0 MiB read, 4.0 MiB added.' },
  DiscoveryFound: { count: 3, region: 'lab-amsterdam' },
  DiscoveryNothing: { region: 'lab-amsterdam', seen: 2, otherRegion: 1, alreadyRegistered: 1, missing: 0, registeredTo: ['vault-other'] },
  VmRegistered: { vm: 'shop/web01', vault: 'vault-ams' },
  VmUnregistered: { vm: 'shop/web01', vault: 'vault-ams' },
  ProtectionConfigured: { vm: 'shop/web01', policy: 'Gold' },
  PolicyChanged: { vm: 'shop/web01', policy: 'Silver' },
  ProtectionStopped: { vm: 'shop/web01' },
  ProtectionRemoved: { vm: 'shop/web01', points: 2 },
  ProtectionResumed: { vm: 'shop/web01' },
  BackupDone: { pointId: '20260101T220000Z', disks: 2, bytesRead: 3 * 2 ** 30, bytesStored: 5 * 2 ** 20 },
  RestoreDone: { vm: 'shop/web01', pointId: '20260101T220000Z', target: '/restore/web01', definedAs: 'web01-restored', definedOn: 'qemu:///system' },
  DisksReplaced: { vm: 'shop/web01', pointId: '20260101T220000Z', keptAs: ['disk.img.before-restore'] },
  VerifyDone: { full: true, points: 4, chunks: 120 },
  PointsPruned: { vm: 'shop/web01', points: 1 },
  WaitingForLock: { operation: 'backup of web01', host: 'nas1' },
  VaultUpgraded: { vault: 'vault-ams', from: 1, to: 2, converted: 3, points: 3 },
  FilesRestored: { vm: 'shop/web01', pointId: '20260101T220000Z', target: '/restore/files', files: 3, bytes: 12 * 2 ** 20 },
  RestoreConverted: { vm: 'shop/web01', pointId: '20260101T220000Z', target: '/restore/web01', format: 'qcow2', disks: 2, definedAs: 'web01-kvm', definedOn: 'qemu:///system' },
  RestoreTestBooting: { vm: 'shop/web01', domain: 'coffer-test-20260101T220000Z', uri: 'qemu:///system', viaAgent: false },
  RestoreTestPassed: { vm: 'shop/web01', pointId: '20260101T220000Z', viaAgent: true, restoreSeconds: 12.4, bootSeconds: 31 },
};
const messages = Object.entries(samples).map(([code, params]) => JobMessage.parse({ code, params }));

const consoleFormat = (locale: 'en' | 'nl'): MessageFormat => ({
  bytes: (n) => `${n} B`,
  number: (n) => new Intl.NumberFormat(locale).format(n),
  count: (n, one, other) => (new Intl.PluralRules(locale).select(n) === 'one' ? one : other).replace('#', String(n)),
});

describe('job messages', () => {
  it.each(messages.map((m) => [m.code, m] as const))('%s renders in the CLI, the console in English and in Dutch', (_code, m) => {
    const cli = jobText(m);
    const en = translateJobMessage('en', m, consoleFormat('en'));
    const nl = translateJobMessage('nl', m, consoleFormat('nl'));
    for (const text of [cli, en, nl]) {
      expect(text).not.toBe('');
      expect(text).not.toMatch(/undefined|\[object|NaN/);
    }
    if (m.code !== 'LegacyText') expect(nl).not.toBe(en);
    // The parameters people need are in every language.
    for (const value of Object.values(m.params)) {
      if (typeof value === 'string' && value !== '') for (const text of [cli, en, nl]) expect(text).toContain(value);
    }
  });

  it('says the units and counts as each face does', () => {
    const backup = JobMessage.parse({ code: 'BackupDone', params: samples.BackupDone });
    expect(jobText(backup)).toBe('Recovery point 20260101T220000Z: 2 disks, 3.0 GiB read, 5.0 MiB stored.');
    expect(translateJobMessage('nl', backup, consoleFormat('nl'))).toBe(
      `Herstelpunt 20260101T220000Z: 2 schijven, ${3 * 2 ** 30} B gelezen, ${5 * 2 ** 20} B opgeslagen.`,
    );
    const one = JobMessage.parse({ code: 'ProtectionRemoved', params: { vm: 'shop/web01', points: 1 } });
    expect(jobMessageText(one, englishFormat)).toBe('Protection of shop/web01 removed and 1 recovery point deleted.');
    expect(translateJobMessage('nl', one, consoleFormat('nl'))).toBe('Beveiliging van shop/web01 verwijderd en 1 herstelpunt verwijderd.');
  });

  it('says how each disk of a backup was read, and why one was read in full, in English and Dutch', () => {
    const m = JobMessage.parse({
      code: 'BackupDone',
      params: {
        ...samples.BackupDone,
        reads: [
          { disk: 'web.img', read: 'unchanged', parent: '20251231T220000000Z-0a1b2c3d' },
          { disk: 'data.img', read: 'full', reason: 'periodic' },
        ],
      },
    });
    expect(jobText(m)).toBe(
      "Recovery point 20260101T220000Z: 2 disks, 3.0 GiB read, 5.0 MiB stored. web.img: unchanged since point 20251231T220000000Z-0a1b2c3d. data.img: read in full (the policy's periodic full read).",
    );
    expect(translateJobMessage('nl', m, consoleFormat('nl'))).toBe(
      `Herstelpunt 20260101T220000Z: 2 schijven, ${3 * 2 ** 30} B gelezen, ${5 * 2 ** 20} B opgeslagen. web.img: ongewijzigd sinds punt 20251231T220000000Z-0a1b2c3d. data.img: volledig gelezen (het periodieke volledig lezen van het beleid).`,
    );
  });

  it('counts jobs with the plural rules of the language', () => {
    expect(translatePlural('en', 'jobs.count', 1)).toBe('1 job');
    expect(translatePlural('en', 'jobs.count', 2)).toBe('2 jobs');
    expect(translatePlural('en', 'jobs.count', 0)).toBe('0 jobs');
    expect(translatePlural('nl', 'jobs.count', 1)).toBe('1 taak');
    expect(translatePlural('nl', 'jobs.count', 1200)).toBe('1.200 taken');
    expect(translatePlural('nl', 'jobs.countMore', 100)).toBe('100 taken geladen; scroll voor meer');
  });

  it('renders a warning from its code in the language, with its subject and untranslated detail', () => {
    const w = { code: 'GuestAgentUnavailable', message: 'web01: no quiesced snapshot (agent absent); crash-consistent', subject: 'web01', detail: 'agent absent' } as const;
    expect(translateWarning('nl', w)).toBe('web01: De gastagent antwoordde niet, dus de momentopname is alleen crashconsistent. (agent absent)');
    expect(translateWarning('en', w)).toMatch(/^web01: .*guest agent.* \(agent absent\)$/i);
  });
});

describe('job rows written before message codes and triggers', () => {
  const tmp = useTmp();
  const dbs: Db[] = [];
  afterEach(() => {
    for (const db of dbs.splice(0)) db.close();
  });

  it('migration 9 keeps old texts readable and derives each old job trigger', async () => {
    const dataDir = path.join(tmp(), 'data');
    // A catalog as Coffer left it at schema 7, with jobs of the old shape.
    fs.mkdirSync(dataDir, { recursive: true });
    const old = new Database(path.join(dataDir, CATALOG_FILE));
    for (const step of migrations.slice(0, 7)) step(old);
    old.pragma('user_version = 7');
    const insert = old.prepare(
      `INSERT INTO jobs (operation, status, vm_name, created_at, started_at, ended_at, catch_up, summary, warnings)
       VALUES (?, ?, 'web01', ?, ?, ?, ?, ?, ?)`,
    );
    const t0 = '2026-01-01T22:00:00.000Z';
    const t1 = '2026-01-01T22:05:00.000Z';
    insert.run('Backup', 'Completed', t0, t0, t1, 0, 'Recovery point p1: 1 disk(s), 8.0 MiB read, 4.0 MiB added.', '[]');
    insert.run('Backup', 'CompletedWithWarnings', t0, t0, t1, 1, 'Recovery point p2: 1 disk(s), 8.0 MiB read, 0.1 MiB added.', JSON.stringify([{ code: 'GuestAgentUnavailable', message: 'web01: no quiesced snapshot' }]));
    insert.run('Backup', 'Failed', t0, t0, t0, 0, null, '[]'); // refused before it ran: only the scheduler logs those
    insert.run('Prune', 'Completed', t0, t0, t1, 0, '1 recovery point(s) of web01 past retention deleted.', '[]');
    old.close();

    const db = openCatalog(dataDir);
    dbs.push(db);
    const jobs = new JobService(db, new EngineEvents());
    const rows = jobs.query({ limit: 10 }).jobs.reverse();
    expect(rows.map((j) => j.trigger)).toEqual(['manual', 'catchUp', 'scheduled', 'system']);
    expect(rows[0]!.summary).toEqual({ code: 'LegacyText', params: { text: 'Recovery point p1: 1 disk(s), 8.0 MiB read, 4.0 MiB added.' } });
    expect(rows[1]!.warnings).toEqual([{ code: 'GuestAgentUnavailable', message: 'web01: no quiesced snapshot', subject: null, detail: 'web01: no quiesced snapshot' }]);
    // What each face shows of an old row: its text as it was.
    expect(translateJobMessage('nl', rows[0]!.summary!, consoleFormat('nl'))).toBe('Recovery point p1: 1 disk(s), 8.0 MiB read, 4.0 MiB added.');
    expect(describeJob(rows[3]!)).toContain('1 recovery point(s) of web01 past retention deleted.');
    expect(jobs.query({ limit: 10, trigger: ['catchUp', 'system'] }).jobs.map((j: Job) => j.operation)).toEqual(['Prune', 'Backup']);
  });
});
