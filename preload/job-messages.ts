// What a job says about itself (its result, or what it waits for), as a code with typed parameters:
// the engine stores the code, every face renders it in its own language. The English texts live
// here (as the English error texts live in errors.ts); the console's other languages render the
// same codes from their own table (renderer/src/i18n/nl.ts), typed against JobMessageTexts, so a
// code without a Dutch text fails the typecheck. No Node here: the renderer imports this too.
import { z } from 'zod';
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
  message('BackupDone', { pointId: z.string(), disks: Count, bytesRead: Bytes, bytesStored: Bytes }),
  message('RestoreDone', { vm: VmLabel, pointId: z.string(), target: z.string(), definedAs: z.string().nullable(), definedOn: z.string().nullable() }),
  message('DisksReplaced', { vm: VmLabel, pointId: z.string(), keptAs: z.array(z.string()) }),
  message('VerifyDone', { full: z.boolean(), points: Count, chunks: Count }),
  message('PointsPruned', { vm: VmLabel, points: Count }),
  /** While a job waits for another job or install that holds the vault. */
  message('WaitingForLock', { operation: z.string(), host: z.string() }),
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
  BackupDone: (p, f) => `Recovery point ${p.pointId}: ${f.count(p.disks, '# disk', '# disks')}, ${f.bytes(p.bytesRead)} read, ${f.bytes(p.bytesStored)} stored.`,
  RestoreDone: (p) =>
    `Restored ${p.vm} point ${p.pointId} to ${p.target}${p.definedAs && p.definedOn ? ` and defined as ${p.definedAs} on ${p.definedOn}` : ''}.`,
  DisksReplaced: (p) => `Replaced the disks of ${p.vm} with point ${p.pointId}; the previous files are kept as ${p.keptAs.join(', ')}.`,
  VerifyDone: (p, f) =>
    `${p.full ? 'Full' : 'Quick'} verify: ${p.points === 1 ? 'the recovery point is' : `all ${f.count(p.points, '# recovery point', '# recovery points')} are`} intact (${f.count(p.chunks, '# chunk', '# chunks')} checked).`,
  PointsPruned: (p, f) => `${f.count(p.points, '# recovery point', '# recovery points')} of ${p.vm} past retention deleted.`,
  WaitingForLock: (p) => `Waiting for ${p.operation} on host ${p.host} to finish.`,
  RestoreConverted: (p, f) =>
    `Restored ${p.vm} point ${p.pointId} to ${p.target} with ${f.count(p.disks, '# disk', '# disks')} in ${p.format}${p.definedAs && p.definedOn ? ` and defined as ${p.definedAs} on ${p.definedOn}` : ''}.`,
  RestoreTestBooting: (p) => `Test VM ${p.domain} of ${p.vm} started on ${p.uri}; waiting for ${p.viaAgent ? 'its guest agent to answer' : 'its heartbeat on the serial console'}.`,
  RestoreTestPassed: (p, f) =>
    `Test restore of ${p.vm} point ${p.pointId} passed: restored in ${f.number(Math.round(p.restoreSeconds))} s, ${p.viaAgent ? 'the guest agent answered' : 'the heartbeat appeared on the serial console'} ${f.number(Math.round(p.bootSeconds))} s after start; the test VM, its disks and network are removed.`,
};

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
