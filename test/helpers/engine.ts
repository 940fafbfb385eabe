import { afterEach } from 'vitest';
import { Engine } from '../../main/core/engine.js';
import { createRouter, type Router } from '../../main/rpc/router.js';
import { unwrap } from './cli.js';

export interface Installed {
  engine: Engine;
  /** The router as the CLI face calls it: what a user's command reaches. */
  router: Router;
}

/**
 * An engine on a data folder, closed after the test that opened it: `const open = useEngines();
 * const { engine, router } = open(dataDir)`.
 */
export function useEngines(): (dataDir: string) => Installed {
  const opened: Engine[] = [];
  afterEach(async () => {
    for (const e of opened.splice(0)) await e.close();
  });
  return (dataDir) => {
    const engine = Engine.open({ dataDir });
    opened.push(engine);
    return { engine, router: createRouter(engine, 'cli') };
  };
}

/** Discovers the vault's sources, then registers and protects `vms` with `policy`, waiting for each job. */
export async function discoverRegisterProtect({ engine, router }: Installed, vault: string, vms: string[], policy = 'DefaultPolicy'): Promise<void> {
  await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault })).id);
  for (const j of unwrap(await router.invoke('registerVms', { vault, vms }))) await engine.jobs.wait(j.id);
  for (const j of unwrap(await router.invoke('protectVms', { vault, vms, policy }))) await engine.jobs.wait(j.id);
}
