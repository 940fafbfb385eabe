// The tray icon: renders core/tray's decisions and hands clicks back to main.ts.
import path from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions, type NativeImage } from 'electron';
import {
  englishTrayLabels,
  trayMenuModel,
  trayStatus,
  type JobLike,
  type NotifySetting,
  type TrayAction,
  type TrayMenuItem,
  type TrayState,
  type TrayStatus,
} from '../core/tray.js';

export interface TrayHandlers {
  onAction(action: TrayAction): void;
  /** A running job in the menu was clicked (issue 6: open the window at that job). */
  onJob(jobId: JobLike['id']): void;
  /** The user picked a notification level. */
  onNotify(level: NotifySetting): void;
}

export interface CofferTray {
  update(state: TrayState): void;
  dispose(): void;
}

export function createTray(assetsDir: string, handlers: TrayHandlers, initial: TrayState): CofferTray {
  // createFromPath picks up the @2x sibling on high-density screens by itself.
  const icons = new Map<TrayStatus, NativeImage>();
  const icon = (status: TrayStatus) => {
    let image = icons.get(status);
    if (!image) {
      image = nativeImage.createFromPath(path.join(assetsDir, `tray-${status}.png`));
      icons.set(status, image);
    }
    return image;
  };

  const tray = new Tray(icon('idle'));
  let shownStatus: TrayStatus | undefined;
  let shownMenu = '';

  const toMenuItem = (item: TrayMenuItem): MenuItemConstructorOptions => {
    switch (item.kind) {
      case 'separator':
        return { type: 'separator' };
      case 'note':
        return { label: item.label, enabled: false };
      case 'job':
        return { label: item.label, click: () => handlers.onJob(item.jobId) };
      case 'action':
        return { label: item.label, click: () => handlers.onAction(item.action) };
      case 'toggle':
        return { label: item.label, type: 'checkbox', checked: item.checked, click: () => handlers.onAction(item.action) };
      case 'choice':
        return {
          label: item.label,
          submenu: item.options.map((o) => ({ label: o.label, type: 'radio' as const, checked: o.checked, click: () => handlers.onNotify(o.value) })),
        };
    }
  };

  const update = (state: TrayState) => {
    const status = trayStatus(state.jobs);
    if (status !== shownStatus) {
      tray.setImage(icon(status));
      tray.setToolTip((state.labels ?? englishTrayLabels).tooltip[status]);
      shownStatus = status;
    }
    // Progress events arrive often; rebuilding an unchanged native menu makes it flicker.
    const model = trayMenuModel(state);
    const key = JSON.stringify(model);
    if (key !== shownMenu) {
      tray.setContextMenu(Menu.buildFromTemplate(model.map(toMenuItem)));
      shownMenu = key;
    }
  };

  // Windows and macOS report a plain click; many Linux trays only open the menu.
  tray.on('click', () => handlers.onAction('open'));
  update(initial);
  return { update, dispose: () => tray.destroy() };
}
