import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * V8's collector on demand, for the few places where the engine knows a lot of buffer memory
 * just died: V8 frees ArrayBuffer memory only when it collects, and it schedules collections on
 * its JS heap, not on buffer bytes, so tens of MiB of dead buffers could sit in the RSS.
 * `--expose-gc` set at run time reaches new contexts only, hence the fresh context. Where this
 * is not available the call does nothing and V8's own schedule applies.
 */
export const collectGarbage: (opts: { type: 'minor' | 'major' }) => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return gc as (opts: { type: 'minor' | 'major' }) => void;
  } catch {
    // not available in this runtime
  }
  return () => undefined;
})();
