// Updates of the desktop app from the deployment file's LAN feed (updates.url) with
// electron-updater's generic provider. Off without a feed: Coffer never contacts a server by
// itself. What to do is decided in core (update-decision.ts: newer/older/same, checksum, no
// restart while a backup or restore runs); this file only carries it out.
import { autoUpdater } from 'electron-updater';
import type { Engine } from '../core/engine.js';
import { busyForUpdate, decideUpdate } from '../core/update-decision.js';
import { readFeed } from '../core/update-feed.js';

const HOUR = 3_600_000;

/** Checks the feed now and every `checkEveryHours`; returns the way to stop. */
export function startUpdates(engine: Engine, currentVersion: string): () => void {
  const updates = engine.deployment?.config.updates;
  if (!updates) return () => undefined;
  autoUpdater.autoDownload = false;
  autoUpdater.autoInstallOnAppQuit = false;
  autoUpdater.setFeedURL({ provider: 'generic', url: updates.url });
  let downloaded: { version: string; sha512: string } | undefined;
  let checking = false;
  const busy = () => busyForUpdate(engine.jobs.query({ limit: 200, status: ['Queued', 'InProgress', 'Cancelling'] }).jobs);

  const check = async (): Promise<void> => {
    if (checking) return;
    checking = true;
    try {
      const feed = await readFeed(updates.url);
      const decision = decideUpdate({ current: currentVersion, feed, busyJobs: busy(), downloaded });
      if (decision.action === 'download') {
        // electron-updater downloads the same file and checks its sha512 itself; a mismatch is an error.
        await autoUpdater.checkForUpdates();
        await autoUpdater.downloadUpdate();
        downloaded = { version: decision.version, sha512: decision.file.sha512 };
        await checkAgain();
      } else if (decision.action === 'install') {
        autoUpdater.quitAndInstall(true, true);
      } else if (decision.action === 'none' && decision.reason !== 'upToDate') {
        console.warn(`coffer updates: no update (${decision.reason}${decision.detail ? `: ${decision.detail}` : ''})`);
      }
    } catch (e) {
      console.warn(`coffer updates: ${(e as Error).message}`);
    } finally {
      checking = false;
    }
  };
  const checkAgain = async (): Promise<void> => {
    const feed = await readFeed(updates.url);
    const decision = decideUpdate({ current: currentVersion, feed, busyJobs: busy(), downloaded });
    if (decision.action === 'install') autoUpdater.quitAndInstall(true, true);
  };
  // A downloaded update waiting for a backup or restore to end installs when the last one ends.
  const off = engine.subscribe((event) => {
    if (event === 'jobUpdated' && downloaded && busy() === 0) void check();
  });
  void check();
  const timer = setInterval(() => void check(), updates.checkEveryHours * HOUR);
  timer.unref();
  return () => {
    clearInterval(timer);
    off();
  };
}
