import { describe, expect, it } from 'vitest';
import { runTool, runToolLines, ToolMissingError } from '../../../main/core/sources/exec.js';

/** Timers that keep this process alive (what would hold a CLI backup open after it ended). */
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('running tools', () => {
  it('a tool that is not installed is ToolMissingError and leaves no timer that would keep the process alive', async () => {
    const before = timers();
    await expect(runToolLines('coffer-no-such-tool', ['map'], () => undefined, { timeoutMs: 120_000 })).rejects.toBeInstanceOf(ToolMissingError);
    await expect(runTool('coffer-no-such-tool', ['map'], { timeoutMs: 120_000 })).rejects.toBeInstanceOf(ToolMissingError);
    // The 'error' event comes before the child's handles are gone: let them go.
    await new Promise((r) => setImmediate(r));
    expect(timers()).toBe(before);
  });

  it('hands the output line by line, and a tool that outlives its time is stopped with an error', async () => {
    const lines: string[] = [];
    const r = await runToolLines('sh', ['-c', 'echo one; echo two'], (l) => lines.push(l));
    expect(r.code).toBe(0);
    expect(lines).toEqual(['one', 'two']);
    await expect(runToolLines('sleep', ['30'], () => undefined, { timeoutMs: 100 })).rejects.toThrow(/timed out or was killed \(SIGTERM\)/);
  });
});
