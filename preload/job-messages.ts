// What a job says about itself (its result, or what it waits for), as a code with typed parameters:
// the engine stores the code, every face renders it in its own language. The English texts live
// here (as the English error texts live in errors.ts); the console's other languages render the
// same codes from their own table (renderer/src/i18n/nl.ts), typed against JobMessageTexts, so a
// code without a Dutch text fails the typecheck. No Node here: the renderer imports this too.
import { z } from 'zod';
import { DiskRead, type FullReadReason } from './full-read.js';
import { formatBytes } from './units.js';

const Count = z.number().int().min(0);
const Bytes = z.number().min(0);
/** A VM as people name it: cloudservice/name. */
const VmLabel = z.string();

const message = <C extends string, P extends z.ZodRawShape>(code: C, params: P) => z.object({ code: z.literal(code), params: z.object(params) });

/** The closed set of job messages. Append new codes; never change what a shipped code's params mean. */
export const JobMessage = z.discriminatedUnion('code', [
  /** A row written before message codes existed: its English text, shown as it is. */
  message('LegacyText', { text: z.string() }),
  message('DiscoveryFound', { count: Count, region: z.string() }),
  /** Nothing registrable: either no source reported any VM, or why each VM seen was left out. */
  message('DiscoveryNothing', { region: z.string(), seen: Count, otherRegion: Count, alreadyRegistered: Count, missing: Count, registeredTo: z.array(z.string()).default([]) }),
  message('VmRegistered', { vm: VmLabel, vault: z.string() }),
  message('VmUnregistered', { vm: VmLabel, vault: z.string() }),
  message('ProtectionConfigured', { vm: VmLabel, policy: z.string() }),
  message('PolicyChanged', { vm: VmLabel, policy: z.string() }),
  message('ProtectionStopped', { vm: VmLabel }),
  message('ProtectionRemoved', { vm: VmLabel, points: Count }),
  message('ProtectionResumed', { vm: VmLabel }),
  /** bytesRead: the bytes really read from the disks; reads (since incrementals): how each disk was got. */
  message('BackupDone', { pointId: z.string(), disks: Count, bytesRead: Bytes, bytesStored: Bytes, reads: z.array(DiskRead).optional() }),
  message('RestoreDone', { vm: VmLabel, pointId: z.string(), target: z.string(), definedAs: z.string().nullable(), definedOn: z.string().nullable() }),
  message('DisksReplaced', { vm: VmLabel, pointId: z.string(), keptAs: z.array(z.string()) }),
  message('VerifyDone', { full: z.boolean(), points: Count, chunks: Count }),
  message('PointsPruned', { vm: VmLabel, points: Count }),
  /** While a job waits for another job or install that holds the vault. */
  message('WaitingForLock', { operation: z.string(), host: z.string() }),
  /** An UpgradeVault job ended: the vault is at format `to` (from `from`), `converted` of `points` manifests rewritten by this run. */
  message('VaultUpgraded', { vault: z.string(), from: Count, to: Count, converted: Count, points: Count }),
  /** Single files restored from a point into a folder (file-level restore). */
  message('FilesRestored', { vm: VmLabel, pointId: z.string(), target: z.string(), files: Count, bytes: Bytes }),
  /** A restore whose disks were converted to another format (--format). */
  message('RestoreConverted', { vm: VmLabel, pointId: z.string(), target: z.string(), format: z.string(), disks: Count, definedAs: z.string().nullable(), definedOn: z.string().nullable() }),
  /** A test restore while its temporary VM boots and Coffer waits for the heartbeat. */
  message('RestoreTestBooting', { vm: VmLabel, domain: z.string(), uri: z.string(), viaAgent: z.boolean() }),
  /** A test restore whose temporary VM answered; the VM, its disks and network are removed. */
  message('RestoreTestPassed', { vm: VmLabel, pointId: z.string(), viaAgent: z.boolean(), restoreSeconds: z.number().min(0), bootSeconds: z.number().min(0) }),
]);
export type JobMessage = z.infer<typeof JobMessage>;
export type JobMessageCode = JobMessage['code'];
export type JobMessageParams<C extends JobMessageCode> = Extract<JobMessage, { code: C }>['params'];

/** What a language's texts may use to render numbers, sizes and counted nouns. */
export interface MessageFormat {
  bytes(n: number): string;
  number(n: number): string;
  /** The form of a counted noun for n in this language, with n formatted: count(2, '# point', '# points'). */
  count(n: number, one: string, other: string): string;
}

/** One language's text for every job message code. */
export type JobMessageTexts = { [C in JobMessageCode]: (p: JobMessageParams<C>, f: MessageFormat) => string };

export const englishJobMessages: JobMessageTexts = {
  LegacyText: (p) => p.text,
  DiscoveryFound: (p, f) => `Found ${f.count(p.count, '# VM', '# VMs')} to register in region ${p.region}.`,
  DiscoveryNothing: (p, f) => {
    if (p.seen === 0) return 'No VM can be registered: no source reported any VM.';
    const parts = [
      p.otherRegion ? `${f.count(p.otherRegion, '# VM is', '# VMs are')} in another region than ${p.region}` : '',
      p.alreadyRegistered
        ? `${f.count(p.alreadyRegistered, '# VM is', '# VMs are')} already registered to ${p.registeredTo.length === 0 ? 'a vault' : `${f.count(p.registeredTo.length, 'vault', 'vaults')} ${p.registeredTo.join(', ')}`}`
        : '',
      p.missing ? `${f.count(p.missing, '# VM no longer exists', '# VMs no longer exist')} in their source` : '',
    ].filter(Boolean);
    return `No VM can be registered: ${parts.join('; ') || 'no VM was seen'}.`;
  },
  VmRegistered: (p) => `${p.vm} registered to ${p.vault}.`,
  VmUnregistered: (p) => `${p.vm} unregistered from ${p.vault}.`,
  ProtectionConfigured: (p) => `${p.vm} protected with ${p.policy}; pending initial backup.`,
  PolicyChanged: (p) => `${p.vm} now uses ${p.policy}.`,
  ProtectionStopped: (p) => `Protection of ${p.vm} stopped; its recovery points are kept.`,
  ProtectionRemoved: (p, f) => `Protection of ${p.vm} removed and ${f.count(p.points, '# recovery point', '# recovery points')} deleted.`,
  ProtectionResumed: (p) => `Protection of ${p.vm} resumed.`,
  BackupDone: (p, f) =>
    `Recovery point ${p.pointId}: ${f.count(p.disks, '# disk', '# disks')}, ${f.bytes(p.bytesRead)} read, ${f.bytes(p.bytesStored)} stored.` +
    (p.reads ?? []).map((r) => ` ${diskReadText(r, englishFullReadReasons, englishDiskReads)}`).join(''),
  RestoreDone: (p) =>
    `Restored ${p.vm} point ${p.pointId} to ${p.target}${p.definedAs && p.definedOn ? ` and defined as ${p.definedAs} on ${p.definedOn}` : ''}.`,
  DisksReplaced: (p) => `Replaced the disks of ${p.vm} with point ${p.pointId}; the previous files are kept as ${p.keptAs.join(', ')}.`,
  VerifyDone: (p, f) =>
    `${p.full ? 'Full' : 'Quick'} verify: ${p.points === 1 ? 'the recovery point is' : `all ${f.count(p.points, '# recovery point', '# recovery points')} are`} intact (${f.count(p.chunks, '# chunk', '# chunks')} checked).`,
  PointsPruned: (p, f) => `${f.count(p.points, '# recovery point', '# recovery points')} of ${p.vm} past retention deleted.`,
  WaitingForLock: (p) => `Waiting for ${p.operation} on host ${p.host} to finish.`,
  VaultUpgraded: (p, f) =>
    p.from === p.to && p.converted === 0
      ? `Vault ${p.vault} already uses format ${p.to}; nothing to upgrade.`
      : `Vault ${p.vault} upgraded from format ${p.from} to ${p.to}: ${f.count(p.converted, '# recovery point', '# recovery points')} of ${p.points} rewritten.`,
  FilesRestored: (p, f) => `Restored ${f.count(p.files, '# file', '# files')} (${f.bytes(p.bytes)}) of ${p.vm} point ${p.pointId} to ${p.target}.`,
  RestoreConverted: (p, f) =>
    `Restored ${p.vm} point ${p.pointId} to ${p.target} with ${f.count(p.disks, '# disk', '# disks')} in ${p.format}${p.definedAs && p.definedOn ? ` and defined as ${p.definedAs} on ${p.definedOn}` : ''}.`,
  RestoreTestBooting: (p) => `Test VM ${p.domain} of ${p.vm} started on ${p.uri}; waiting for ${p.viaAgent ? 'its guest agent to answer' : 'its heartbeat on the serial console'}.`,
  RestoreTestPassed: (p, f) =>
    `Test restore of ${p.vm} point ${p.pointId} passed: restored in ${f.number(Math.round(p.restoreSeconds))} s, ${p.viaAgent ? 'the guest agent answered' : 'the heartbeat appeared on the serial console'} ${f.number(Math.round(p.bootSeconds))} s after start; the test VM, its disks and network are removed.`,
};

/** Why a disk was read in full, as a clause after "read in full:" (one language's words). */
export type FullReadReasonTexts = Record<FullReadReason, string>;

export const englishFullReadReasons: FullReadReasonTexts = {
  firstBackup: 'first backup',
  noParent: 'no earlier point has this disk',
  sizeChanged: 'its size changed',
  fileChanged: 'the file changed since the last point',
  forced: 'a full read was asked for',
  periodic: "the policy's periodic full read",
  vmRunning: 'the VM was running',
  checkpointMissing: "the parent point's checkpoint is gone from the domain",
  bitmapUnsupported: 'the disk format cannot track changed blocks (raw or qcow2 v2)',
  domainRestarted: 'the domain restarted without keeping its changed-block bitmap',
  parentDeleted: "the point the domain's checkpoint belonged to was deleted",
  domainRecreated: 'the domain was defined anew: its checkpoints are gone, only their bitmaps were left in the disk',
};

/** One language's sentences for how a disk was read: {disk}, {point}, {reason} are filled in. */
export interface DiskReadTexts {
  unchanged: string;
  changed: string;
  full: string;
}

export const englishDiskReads: DiskReadTexts = {
  unchanged: '{disk}: unchanged since point {point}.',
  changed: '{disk}: only what changed since point {point} was read.',
  full: '{disk}: read in full ({reason}).',
};

/** How one disk was read, in a language's words (shared by every language's BackupDone text). */
export function diskReadText(r: DiskRead, reasons: FullReadReasonTexts, texts: DiskReadTexts): string {
  const reason = r.reason ? reasons[r.reason] : '';
  const t = r.read === 'full' && !r.reason ? texts.full.replace(/ \(\{reason\}\)/, '') : texts[r.read];
  return t.replace('{disk}', r.disk).replace('{point}', r.parent ?? '?').replace('{reason}', reason);
}

/** Renders a job message with a language's texts (English unless told). */
export function jobMessageText(m: JobMessage, f: MessageFormat, texts: JobMessageTexts = englishJobMessages): string {
  // The union's code selects its own params; TypeScript cannot see that through the index.
  const render = texts[m.code] as (p: JobMessage['params'], f: MessageFormat) => string;
  return render(m.params, f);
}

/** count() for a locale through Intl.PluralRules: the form for n, with "#" replaced by n formatted. */
export function pluralCounter(locale: string, number: (n: number) => string = (n) => new Intl.NumberFormat(locale).format(n)): MessageFormat['count'] {
  const rules = new Intl.PluralRules(locale);
  return (n, one, other) => (rules.select(n) === 'one' ? one : other).replace('#', number(n));
}

/** The English format of the faces without a locale (CLI, tray): binary units, plain digits. */
export const englishFormat: MessageFormat = { bytes: formatBytes, number: String, count: pluralCounter('en', String) };

/** A job message in English, for the faces without a locale (CLI, tray). */
export function englishJobText(m: JobMessage): string {
  return jobMessageText(m, englishFormat);
}
