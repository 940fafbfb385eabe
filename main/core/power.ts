// Laptop-aware schedules: whether a scheduled backup waits because of the machine's power or
// network, as a pure function of a power reading, and the Linux reading from /sys/class/power_supply.
// The scheduler skips a deferred slot without counting it as attempted, so when the condition
// clears the latest missed slot runs once, as a catch-up (policy/schedule.ts, dueBackups).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DeferReason } from '../../preload/contract.js';

export interface PowerState {
  /** Running on battery (no mains or USB supply online). */
  onBattery: boolean;
  /** The charge left, 0-100; null when the system does not say. */
  batteryPercent: number | null;
  /** The network connection is metered (a phone's hotspot, a mobile plan). */
  metered: boolean;
}

export interface PowerRules {
  /** On battery below this charge (or on battery with an unknown charge), scheduled backups wait. */
  batteryBelowPercent: number;
  /** On a metered connection, scheduled backups into a remote (object-storage) vault wait. */
  deferOnMetered: boolean;
}

export const defaultPowerRules: PowerRules = { batteryBelowPercent: 30, deferOnMetered: true };

/** Something that tells the power state now: Electron's powerMonitor, /sys/class/power_supply, a recording in a test. */
export interface PowerSource {
  /** null: a machine without a battery (a server, a desktop PC): nothing is ever deferred. */
  read(): PowerState | null;
}

/** Why a scheduled backup into a vault (remote: object storage) waits now, or null when it runs. */
export function deferral(state: PowerState | null, vaultRemote: boolean, rules: PowerRules = defaultPowerRules): DeferReason | null {
  if (!state) return null;
  if (state.onBattery && (state.batteryPercent === null || state.batteryPercent < rules.batteryBelowPercent)) return 'onBattery';
  if (rules.deferOnMetered && vaultRemote && state.metered) return 'meteredConnection';
  return null;
}

function readAttr(dir: string, name: string): string | null {
  try {
    return fs.readFileSync(path.join(dir, name), 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The power state in a Linux sysfs tree (`root` is /sys/class/power_supply; a test points it at a
 * recorded one). On battery: there is a battery and no Mains/USB supply is online (a battery that
 * says Discharging counts when no supply reports `online`). The charge: energy or charge now over
 * full summed over the batteries, else their mean `capacity`. No battery: null.
 */
export function readPowerSupply(root = '/sys/class/power_supply', metered = false): PowerState | null {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return null;
  }
  let batteries = 0;
  let supplySeen = false;
  let supplyOnline = false;
  let discharging = false;
  let now = 0;
  let full = 0;
  const capacities: number[] = [];
  for (const name of entries.sort()) {
    const dir = path.join(root, name);
    const type = readAttr(dir, 'type');
    if (type === 'Battery') {
      if (readAttr(dir, 'present') === '0' || readAttr(dir, 'scope') === 'Device') continue;
      batteries++;
      if (readAttr(dir, 'status') === 'Discharging') discharging = true;
      const n = Number(readAttr(dir, 'energy_now') ?? readAttr(dir, 'charge_now') ?? NaN);
      const f = Number(readAttr(dir, 'energy_full') ?? readAttr(dir, 'charge_full') ?? NaN);
      if (Number.isFinite(n) && Number.isFinite(f) && f > 0) {
        now += n;
        full += f;
      }
      const c = Number(readAttr(dir, 'capacity') ?? NaN);
      if (Number.isFinite(c)) capacities.push(c);
    } else if (type === 'Mains' || type === 'USB' || type === 'USB_C' || type === 'USB_PD') {
      const online = readAttr(dir, 'online');
      if (online !== null) {
        supplySeen = true;
        if (online === '1') supplyOnline = true;
      }
    }
  }
  if (batteries === 0) return null;
  const onBattery = supplySeen ? !supplyOnline : discharging;
  const batteryPercent = full > 0 ? Math.round((now / full) * 100) : capacities.length > 0 ? Math.round(capacities.reduce((a, c) => a + c, 0) / capacities.length) : null;
  return { onBattery, batteryPercent, metered };
}

/**
 * Whether NetworkManager says the machine's connection is metered: its `Metered` property
 * (NMMetered: 1 yes, 3 guessed yes; 0 unknown, 2 no, 4 guessed no), as `busctl get-property`
 * prints it ("u 1"). Anything else (no NetworkManager, no D-Bus, no busctl) is "not metered".
 */
export function parseNetworkManagerMetered(busctlOutput: string): boolean {
  const m = /^u\s+(\d+)\s*$/.exec(busctlOutput.trim());
  return m !== null && (m[1] === '1' || m[1] === '3');
}

/** Asks NetworkManager over the system bus (2 s at most); false when it cannot be asked. */
export function readNetworkManagerMetered(): boolean {
  try {
    const out = execFileSync('busctl', ['--system', 'get-property', 'org.freedesktop.NetworkManager', '/org/freedesktop/NetworkManager', 'org.freedesktop.NetworkManager', 'Metered'], {
      encoding: 'utf8',
      timeout: 2000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return parseNetworkManagerMetered(out);
  } catch {
    return false;
  }
}

/**
 * The Linux host's reading for laptop-aware schedules: the power supply tree and NetworkManager's
 * metered flag (asked at most once a minute). A machine without a battery on a metered connection
 * still defers backups into remote vaults.
 */
export function linuxPowerSource(root = '/sys/class/power_supply', metered: () => boolean = readNetworkManagerMetered, now: () => number = Date.now): PowerSource {
  let asked = -Infinity;
  let last = false;
  return {
    read: () => {
      if (now() - asked >= 60_000) {
        last = metered();
        asked = now();
      }
      return readPowerSupply(root, last) ?? (last ? { onBattery: false, batteryPercent: null, metered: true } : null);
    },
  };
}
