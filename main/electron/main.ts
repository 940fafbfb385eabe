// The desktop shell, and the only code that talks to Electron: it starts the engine, carries
// calls from the window to the router and events back, and keeps a tray icon so backups go on
// after the window closes. Decisions live in core/tray.ts; this file only wires them.
import path from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, Notification, session, type IpcMainInvokeEvent } from 'electron';
import { IPC_CALL, IPC_EVENT, isActiveProtection, type Job, type Result } from '../../preload/contract.js';
import { COFFER_VERSION, defaultDataDir, Engine } from '../core/engine.js';
import { applyDeployment, loadDeployment, managedSettings, type LoadedDeployment } from '../core/deployment.js';
import type { NotifySetting } from '../core/tray.js';
import { electronPowerSource } from './power.js';
import { startUpdates } from './updater.js';
import { toApiError } from '../core/errors.js';
import { jobNotification, shouldNotify, trackJob, type JobLike, type TrayAction } from '../core/tray.js';
import { createRouter, type Router } from '../rpc/router.js';
import { dataDirFromArgv } from './args.js';
import { openPreferences, type PreferenceStore } from './preferences.js';
import { lockDownWebContents, registerAppScheme, secureSession, serveRenderer } from './security.js';
import { createTray, type CofferTray } from './tray.js';
import { APP_ENTRY, isTrustedPageUrl, loopbackDevServer } from './trust.js';
import { openConsoleWindow } from './window.js';
import { safeStorageSecrets } from './secrets.js';
import { startHosting } from '../host/hosting.js';

const appRoot = app.getAppPath();
const paths = {
  renderer: path.join(appRoot, 'dist', 'renderer'),
  preload: path.join(appRoot, 'dist', 'electron', 'preload.cjs'),
  assets: path.join(appRoot, 'main', 'electron', 'assets'),
};

// The desktop and the CLI share one catalog: same default folder, same overrides.
const explicitDataDir = dataDirFromArgv(process.argv) ?? process.env.COFFER_DATA_DIR;
const dataDir = path.resolve(explicitDataDir ?? defaultDataDir());
if (explicitDataDir) {
  // Chromium's profile, the preferences and the single-instance lock follow an explicit data
  // folder, so two desktops on two folders (tests) run side by side and never share state.
  app.setPath('userData', path.join(dataDir, 'desktop'));
}

// Only an unpackaged app may load the console from a loopback dev server.
const devServer = app.isPackaged ? undefined : loopbackDevServer(process.env.COFFER_RENDERER_URL ?? '');
const consoleUrl = devServer?.href ?? APP_ENTRY;

let engine: Engine | undefined;
let router: Router | undefined;
let preferences: PreferenceStore | undefined;
let tray: CofferTray | undefined;
let consoleWindow: BrowserWindow | undefined;
let stopForwarding: (() => void) | undefined;
let stopHost: (() => Promise<void>) | undefined;
let stopUpdates: (() => void) | undefined;
/** The machine's deployment file (main/core/deployment.ts), read at start. */
let deployment: LoadedDeployment | null = null;
let shuttingDown = false;
let shutDown = false;

/** Running jobs and each VM's latest finished backup: what the tray shows (core/tray.ts). */
let jobLog: JobLike[] = [];
/** Protected VMs (from the dashboard data): "Back up all now" is offered only when there are some. */
let protectedVmCount = 0;
/** Shown notifications are held until dismissed: a collected one loses its click handler. */
const notifications = new Set<Notification>();

registerAppScheme();
lockDownWebContents();

if (!app.requestSingleInstanceLock()) {
  // Another Coffer holds this data folder; it shows its window (second-instance below).
  app.quit();
} else {
  app.on('second-instance', showConsole);
  // Closing the window leaves the engine, the scheduler and the tray running; only Quit ends it.
  app.on('window-all-closed', () => {});
  app.on('activate', showConsole);
  app.on('before-quit', (event) => {
    if (shutDown) return;
    // Hold the quit until the catalog is closed; a second Quit meanwhile just waits for it.
    event.preventDefault();
    if (shuttingDown) return;
    shuttingDown = true;
    void shutDownEngine().finally(() => {
      shutDown = true;
      app.quit();
    });
  });
  // `npm start` forwards Ctrl+C and kill as signals; close the catalog cleanly on those too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => app.quit());
  app.whenReady().then(start).catch(fail);
}

async function start(): Promise<void> {
  secureSession(session.defaultSession);
  serveRenderer(paths.renderer);

  try {
    // The machine's file, else one beside the installed app; an invalid one stops the app, nothing applied.
    deployment = loadDeployment({ alsoIn: [path.dirname(app.getPath('exe'))] });
  } catch (e) {
    const error = toApiError(e);
    dialog.showErrorBox('Coffer cannot start: its deployment file is refused', `${error.message}\n\n${error.remedy}`);
    shutDown = true;
    app.exit(1);
    return;
  }
  try {
    const secrets = safeStorageSecrets(app.getPath('userData'));
    engine = Engine.open({
      dataDir,
      ...(secrets ? { secrets } : {}),
      desktop: {
        pickFolder: async ({ title, defaultPath }) => {
          const options: Electron.OpenDialogOptions = { properties: ['openDirectory', 'createDirectory'], ...(title ? { title } : {}), ...(defaultPath ? { defaultPath } : {}) };
          const r = consoleWindow ? await dialog.showOpenDialog(consoleWindow, options) : await dialog.showOpenDialog(options);
          return r.canceled ? null : (r.filePaths[0] ?? null);
        },
      },
    });
  } catch (e) {
    const error = toApiError(e);
    dialog.showErrorBox('Coffer cannot open its data folder', `${error.message}\n\n${error.remedy}\n\n${dataDir}`);
    shutDown = true;
    app.exit(1);
    return;
  }
  engine.deployment = deployment;
  engine.power = electronPowerSource();
  if (deployment) {
    const report = await applyDeployment(engine, deployment.config);
    for (const p of report.problems) console.warn(`Coffer deployment ${deployment.file}: ${p.subject}: ${p.code}: ${p.message}`);
  }
  const engineRouter = createRouter(engine, 'electron');
  router = engineRouter;
  ipcMain.handle(IPC_CALL, (event, method: unknown, args: unknown) => handleCall(engineRouter, event, method, args));
  preferences = await openPreferences();
  tray = createTray(
    paths.assets,
    {
      onAction: onTrayAction,
      onJob: () => showConsole(),
      onNotify: (level) => {
        if (notifyManaged()) return;
        preferences?.set('notifications', level);
        updateTray();
      },
    },
    trayState(),
  );
  stopForwarding = engine.subscribe((name, payload) => {
    const contents = consoleWindow?.webContents;
    if (contents && !contents.isDestroyed()) contents.send(IPC_EVENT, name, payload);
    if (name === 'jobUpdated') onJobUpdated(payload as Job);
    if (name === 'protectionChanged') refreshProtectedCount();
  });
  await seedJobLog(engineRouter);
  refreshProtectedCount();
  // The desktop app is a host like `coffer serve`: it runs the schedule while it lives in the tray,
  // and the CLI hands jobs to it over the same loopback console (token in the data folder).
  const hosting = await startHosting({ engine, staticDir: paths.renderer });
  stopHost = () => hosting.stop();
  stopUpdates = startUpdates(engine, COFFER_VERSION);
  showConsole();
}

/** The tray starts from the job log in the catalog; events already seen are newer, so they win. */
async function seedJobLog(engineRouter: Router): Promise<void> {
  const queries = [
    { status: ['Queued', 'InProgress', 'Cancelling'], limit: 1000 },
    { operation: ['Backup'], status: ['Completed', 'CompletedWithWarnings', 'Failed'], limit: 1000 },
  ];
  for (const query of queries) {
    const result = await engineRouter.call('listJobs', query);
    if (!result.ok) continue; // the tray merely starts idle
    for (const job of (result.value as { jobs: Job[] }).jobs) {
      if (!jobLog.some((j) => j.id === job.id)) jobLog = trackJob(jobLog, job).log;
    }
  }
  updateTray();
}

function onJobUpdated(job: Job): void {
  const tracked = trackJob(jobLog, job);
  jobLog = tracked.log;
  updateTray();
  if (tracked.justFinished && shouldNotify(job, notifyLevel())) notify(job);
}

function notify(job: Job): void {
  if (!Notification.isSupported()) return;
  const { title, body } = jobNotification(job);
  const notification = new Notification({ title, body, icon: path.join(paths.assets, 'icon.png') });
  notifications.add(notification);
  const forget = () => notifications.delete(notification);
  notification.on('click', () => {
    forget();
    showConsole(); // issue 6: open the job itself once the console routes to job details
  });
  notification.on('close', forget);
  notification.show();
}

/** The one IPC entry point: only our own console page, in our own window, reaches the router. */
async function handleCall(
  engineRouter: Router,
  event: IpcMainInvokeEvent,
  method: unknown,
  args: unknown,
): Promise<Result<unknown>> {
  if (!isTrustedSender(event)) {
    // Not an API answer on purpose: a foreign frame learns nothing about the engine.
    throw new Error('Coffer refused a call from an untrusted page.');
  }
  try {
    // The router validates the method name and arguments against the contract itself.
    return await engineRouter.call(method as string, args);
  } catch (e) {
    // The router never throws; if it ever does, the window still gets an answer it can show.
    return { ok: false, error: toApiError(e) };
  }
}

function isTrustedSender(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  if (!frame || !consoleWindow || consoleWindow.isDestroyed()) return false;
  if (event.sender !== consoleWindow.webContents) return false;
  // Subframes never need the engine, whatever their origin.
  if (frame !== event.sender.mainFrame) return false;
  return isTrustedPageUrl(frame.url, devServer?.href);
}

function showConsole(): void {
  if (!router || !preferences) return; // still starting; start() opens the window when ready
  if (consoleWindow && !consoleWindow.isDestroyed()) {
    if (consoleWindow.isMinimized()) consoleWindow.restore();
    consoleWindow.show();
    consoleWindow.focus();
    return;
  }
  const win = openConsoleWindow({
    url: consoleUrl,
    preload: paths.preload,
    icon: path.join(paths.assets, 'icon.png'),
    preferences,
  });
  win.on('closed', () => {
    if (consoleWindow === win) consoleWindow = undefined;
  });
  consoleWindow = win;
}

function onTrayAction(action: TrayAction): void {
  switch (action) {
    case 'open':
      showConsole();
      return;
    case 'backUpAll':
      void backUpAll();
      return;
    case 'toggleOpenAtLogin':
      app.setLoginItemSettings({ openAtLogin: !app.getLoginItemSettings().openAtLogin });
      updateTray();
      return;
    case 'quit':
      app.quit();
      return;
  }
}

/** What the tray shows: jobs, protected VMs, the notification level, start at login (not on Linux). */
function trayState() {
  return {
    jobs: jobLog,
    protectedVmCount,
    // A level the deployment file manages is not offered as a choice.
    ...(notifyManaged() ? {} : { notify: notifyLevel() }),
    ...(process.platform === 'linux' ? {} : { openAtLogin: app.getLoginItemSettings().openAtLogin }),
  };
}

function notifyManaged(): boolean {
  return deployment !== null && managedSettings(deployment.config).includes('notifications');
}

/** The notification level: the deployment file's when it manages it, else the user's choice. */
function notifyLevel(): NotifySetting {
  return (notifyManaged() ? deployment?.config.notifications : undefined) ?? preferences?.get('notifications') ?? 'failures';
}

function updateTray(): void {
  tray?.update(trayState());
}

/** One Backup Now per protected VM; a VM already busy keeps its running job (its error is expected). */
/** "Back up all now" is an API method like any other: the tray calls it through the router. */
async function backUpAll(): Promise<void> {
  await router?.call('backupAll', {});
}

function refreshProtectedCount(): void {
  if (!engine) return;
  protectedVmCount = engine.dashboard().vms.filter((v) => isActiveProtection(v.state)).length;
  updateTray();
}

async function shutDownEngine(): Promise<void> {
  ipcMain.removeHandler(IPC_CALL);
  stopUpdates?.();
  stopForwarding?.();
  await stopHost?.().catch(() => undefined);
  tray?.dispose();
  tray = undefined;
  try {
    await engine?.close();
  } catch (e) {
    console.error('Coffer: closing the catalog failed:', e);
  }
}

function fail(e: unknown): void {
  console.error('Coffer failed to start:', e);
  dialog.showErrorBox('Coffer failed to start', e instanceof Error ? e.message : String(e));
  shutDown = true;
  app.exit(1);
}
