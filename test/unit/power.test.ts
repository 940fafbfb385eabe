import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deferral, readPowerSupply, type PowerState } from '../../main/core/power.js';
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
