// The desktop's own preferences (window bounds, notification level), kept with electron-store in
// Electron's userData folder: they belong to this desktop, not to the catalog or a vault.
import type { NotifySetting, SavedBounds } from '../core/tray.js';

export interface DesktopPreferences {
  /** Read back through restoreBounds, which distrusts whatever the file holds. */
  windowBounds?: SavedBounds;
  notifications?: NotifySetting;
}

export interface PreferenceStore {
  get<K extends keyof DesktopPreferences>(key: K): DesktopPreferences[K];
  set<K extends keyof DesktopPreferences>(key: K, value: DesktopPreferences[K]): void;
}

/**
 * electron-store is ESM only and main.cjs is CommonJS, so it is loaded with import(). A damaged
 * preferences file must not keep the app from starting: it is reset rather than thrown.
 */
export async function openPreferences(): Promise<PreferenceStore> {
  const { default: Store } = await import('electron-store');
  const store = new Store<DesktopPreferences>({ name: 'preferences', clearInvalidConfig: true });
  return {
    get: (key) => store.get(key),
    set: (key, value) => (value === undefined ? store.delete(key) : store.set(key, value)),
  };
}
