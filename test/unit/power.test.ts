import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deferral, linuxPowerSource, parseNetworkManagerMetered, readPowerSupply, type PowerState } from '../../main/core/power.js';
import { repoRoot } from '../helpers/tmp.js';

const recorded = (name: string) => path.join(repoRoot, 'test/fixtures/power_supply', name);

describe('the power state of a Linux machine (/sys/class/power_supply)', () => {
  it('reads a laptop on battery, charging, and a machine without a battery', () => {
    expect(readPowerSupply(recorded('laptop-on-battery-20'))).toEqual({ onBattery: true, batteryPercent: 20, metered: false });
    expect(readPowerSupply(recorded('laptop-charging-20'))).toEqual({ onBattery: false, batteryPercent: 20, metered: false });
    expect(readPowerSupply(recorded('laptop-on-battery-80'))).toEqual({ onBattery: true, batteryPercent: 80, metered: false });
    expect(readPowerSupply(recorded('server-no-battery'))).toBeNull();
    expect(readPowerSupply(recorded('no-such-tree'))).toBeNull();
  });
});

describe("a metered connection, as NetworkManager's Metered property says", () => {
  it('reads busctl output: yes and guessed yes are metered; no, guessed no, unknown and garbage are not', () => {
    expect(parseNetworkManagerMetered('u 1\n')).toBe(true);
    expect(parseNetworkManagerMetered('u 3')).toBe(true);
    expect(parseNetworkManagerMetered('u 2')).toBe(false);
    expect(parseNetworkManagerMetered('u 4')).toBe(false);
    expect(parseNetworkManagerMetered('u 0')).toBe(false);
    expect(parseNetworkManagerMetered('')).toBe(false);
    expect(parseNetworkManagerMetered('Failed to get property')).toBe(false);
  });

  it('a machine without a battery on a metered connection defers backups into remote vaults only; NetworkManager is asked once a minute', () => {
    let clock = 0;
    let asked = 0;
    let metered = true;
    const source = linuxPowerSource(recorded('server-no-battery'), () => (asked++, metered), () => clock);
    expect(source.read()).toEqual({ onBattery: false, batteryPercent: null, metered: true });
    expect(deferral(source.read(), true)).toBe('meteredConnection');
    expect(deferral(source.read(), false)).toBeNull();
    expect(asked).toBe(1);
    metered = false;
    clock += 59_000;
    expect(source.read()?.metered).toBe(true);
    clock += 1_000;
    expect(source.read()).toBeNull();
    expect(asked).toBe(2);
    const laptop = linuxPowerSource(recorded('laptop-charging-20'), () => true, () => clock);
    expect(laptop.read()).toEqual({ onBattery: false, batteryPercent: 20, metered: true });
  });
});

describe('whether a scheduled backup waits', () => {
  const rules = { batteryBelowPercent: 30, deferOnMetered: true };
  const on = (s: Partial<PowerState>): PowerState => ({ onBattery: false, batteryPercent: 100, metered: false, ...s });
  it('waits on battery below the threshold, or with an unknown charge', () => {
    expect(deferral(on({ onBattery: true, batteryPercent: 29 }), false, rules)).toBe('onBattery');
    expect(deferral(on({ onBattery: true, batteryPercent: null }), false, rules)).toBe('onBattery');
    expect(deferral(on({ onBattery: true, batteryPercent: 30 }), false, rules)).toBeNull();
    expect(deferral(on({ onBattery: false, batteryPercent: 5 }), false, rules)).toBeNull();
  });
  it('waits on a metered connection only for a remote vault, and only when the rules say so', () => {
    expect(deferral(on({ metered: true }), true, rules)).toBe('meteredConnection');
    expect(deferral(on({ metered: true }), false, rules)).toBeNull();
    expect(deferral(on({ metered: true }), true, { ...rules, deferOnMetered: false })).toBeNull();
  });
  it('never waits where there is no battery reading', () => {
    expect(deferral(null, true, rules)).toBeNull();
  });
});
