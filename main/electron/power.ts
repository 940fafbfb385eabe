// The desktop's power reading for laptop-aware schedules (main/core/power.ts): Electron's
// powerMonitor says whether the laptop runs on battery; on Linux /sys/class/power_supply adds the
// charge (Electron has no charge API). Elsewhere the charge is unknown, so on battery counts as
// below the threshold. Metered connections: Electron exposes none, so they are not detected here.
import { powerMonitor } from 'electron';
import { readPowerSupply, type PowerSource } from '../core/power.js';

export function electronPowerSource(): PowerSource {
  return {
    read: () => {
      const onBattery = powerMonitor.isOnBatteryPower();
      const sys = process.platform === 'linux' ? readPowerSupply() : null;
      if (!onBattery && !sys) return null;
      return { onBattery, batteryPercent: sys?.batteryPercent ?? null, metered: false };
    },
  };
}
