// Whether the desktop app downloads and installs an update from the deployment's LAN feed: a pure
// function of what the feed said, what a download hashed to, and whether a backup or restore
// runs. Versions compare as semver (as electron-updater does); a file is good when its sha512
// (base64, as in latest.yml) is the feed's. main/electron/updater.ts acts on the decision.
import { eq, gt, valid } from 'semver';

export interface FeedFile {
  url: string;
  sha512: string;
  size?: number | undefined;
}

/** What reading latest.yml gave (update-feed.ts). */
export type FeedReading =
  | { kind: 'unreachable'; message: string }
  | { kind: 'invalid'; message: string }
  | { kind: 'feed'; version: string; files: FeedFile[] };

export interface UpdateSituation {
  /** The running app's version. */
  current: string;
  feed: FeedReading;
  /** Backups or restores running now: an update never interrupts one. */
  busyJobs: number;
  /** The file downloaded for this version, by its sha512 (base64); absent: not downloaded yet. */
  downloaded?: { version: string; sha512: string } | undefined;
}

export type UpdateDecision =
  | { action: 'none'; reason: 'unreachable' | 'invalidFeed' | 'upToDate' | 'older'; detail?: string }
  | { action: 'download'; version: string; file: FeedFile }
  | { action: 'wait'; reason: 'jobRunning'; version: string }
  | { action: 'install'; version: string }
  | { action: 'reject'; reason: 'checksumMismatch'; version: string };

/** A sha512 as latest.yml writes it: 64 bytes in base64. */
export function isSha512(value: string): boolean {
  return /^[A-Za-z0-9+/]{86}==$/.test(value);
}

export function decideUpdate(s: UpdateSituation): UpdateDecision {
  if (s.feed.kind === 'unreachable') return { action: 'none', reason: 'unreachable', detail: s.feed.message };
  if (s.feed.kind === 'invalid') return { action: 'none', reason: 'invalidFeed', detail: s.feed.message };
  const { version, files } = s.feed;
  if (!valid(version)) return { action: 'none', reason: 'invalidFeed', detail: `version ${version} is not a semantic version` };
  const file = files[0];
  if (!file) return { action: 'none', reason: 'invalidFeed', detail: 'the feed lists no file' };
  if (!isSha512(file.sha512)) return { action: 'none', reason: 'invalidFeed', detail: `the sha512 of ${file.url} is not a base64 SHA-512` };
  if (eq(version, s.current)) return { action: 'none', reason: 'upToDate' };
  if (!gt(version, s.current)) return { action: 'none', reason: 'older', detail: `the feed offers ${version}, this is ${s.current}` };
  if (!s.downloaded || s.downloaded.version !== version) return { action: 'download', version, file };
  if (s.downloaded.sha512 !== file.sha512) return { action: 'reject', reason: 'checksumMismatch', version };
  if (s.busyJobs > 0) return { action: 'wait', reason: 'jobRunning', version };
  return { action: 'install', version };
}

/** The jobs an update waits for: a backup or restore is never cut off by a restart. */
export function busyForUpdate(jobs: readonly { operation: string; status: string }[]): number {
  return jobs.filter((j) => (j.operation === 'Backup' || j.operation === 'Restore') && (j.status === 'Queued' || j.status === 'InProgress' || j.status === 'Cancelling')).length;
}
