// The desktop's power reading for laptop-aware schedules (main/core/power.ts): Electron's
// powerMonitor says whether the laptop runs on battery; on Linux /sys/class/power_supply adds the
// charge (Electron has no charge API). Elsewhere the charge is unknown, so on battery counts as
// below the threshold. Metered connections: Electron exposes none; on Linux NetworkManager says
// (linuxPowerSource), elsewhere they are not detected.
import { powerMonitor } from 'electron';
import { linuxPowerSource, type PowerSource } from '../core/power.js';

export function electronPowerSource(): PowerSource {
  const linux = process.platform === 'linux' ? linuxPowerSource() : null;
  return {
    read: () => {
      const onBattery = powerMonitor.isOnBatteryPower();
      const sys = linux?.read() ?? null;
      if (!onBattery && !sys) return null;
      return { onBattery, batteryPercent: sys?.batteryPercent ?? null, metered: sys?.metered ?? false };
    },
  };
}
