// Protected Items reads its own read model (listProtectedItems) instead of joining the VM list
// with the dashboard in the console.
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../main/core/engine.js';
import { createRouter } from '../../main/rpc/router.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe('listProtectedItems', () => {
  it('lists nothing for a new vault and names an unknown vault', async () => {
    const dir = tmp();
    engine = Engine.open({ dataDir: path.join(dir, 'data') });
    const router = createRouter(engine, 'cli');
    const created = await router.invoke('createVault', { name: 'vault-ams', region: 'lab', path: path.join(dir, 'v'), passphrase: 'correct horse battery' });
    expect(created.ok).toBe(true);
    expect(await router.invoke('listProtectedItems', { vault: 'vault-ams' })).toEqual({ ok: true, value: [] });
    const unknown = await router.invoke('listProtectedItems', { vault: 'vault-nowhere' });
    expect(unknown.ok ? 'ok' : unknown.error.code).toBe('VaultNotFound');
  });
});
