// The console window: locked-down web preferences, and bounds that survive a restart.
import { BrowserWindow, nativeTheme, screen } from 'electron';
import { MIN_WINDOW, restoreBounds, type SavedBounds } from '../core/tray.js';
import type { PreferenceStore } from './preferences.js';

export interface WindowOptions {
  url: string;
  preload: string;
  icon: string;
  preferences: PreferenceStore;
}

const DEFAULT_SIZE = { width: 1280, height: 820 };
const SAVE_DELAY_MS = 500;

export function openConsoleWindow(opts: WindowOptions): BrowserWindow {
  const saved = restoreBounds(opts.preferences.get('windowBounds'), screen.getAllDisplays());
  const win = new BrowserWindow({
    ...(saved ? { x: saved.x, y: saved.y, width: saved.width, height: saved.height } : DEFAULT_SIZE),
    minWidth: MIN_WINDOW.width,
    minHeight: MIN_WINDOW.height,
    title: 'Coffer',
    icon: opts.icon,
    show: false,
    // Matches the console's theme, so the window does not flash white before the first paint.
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#1f1f1f' : '#fafafa',
    webPreferences: {
      preload: opts.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
    },
  });

  win.once('ready-to-show', () => {
    if (saved?.maximized) win.maximize();
    win.show();
  });

  // Moving a window fires dozens of events a second; write the file once it comes to rest.
  let timer: NodeJS.Timeout | undefined;
  const save = () => {
    clearTimeout(timer);
    timer = undefined;
    if (win.isDestroyed() || win.isMinimized()) return;
    // Normal bounds, so un-maximizing after a restart returns to the size the user chose.
    const bounds: SavedBounds = { ...win.getNormalBounds(), maximized: win.isMaximized() };
    opts.preferences.set('windowBounds', bounds);
  };
  const saveSoon = () => {
    clearTimeout(timer);
    timer = setTimeout(save, SAVE_DELAY_MS);
  };
  win.on('move', saveSoon);
  win.on('resize', saveSoon);
  win.on('maximize', saveSoon);
  win.on('unmaximize', saveSoon);
  win.on('close', save);

  void win.loadURL(opts.url);
  return win;
}
