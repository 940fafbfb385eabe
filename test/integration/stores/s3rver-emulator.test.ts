import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type VaultStore } from '../../../main/core/vault/stores.js';
import { startS3rver, type Emulator } from '../../helpers/emulators.js';

/**
 * The S3 emulator the suites run against must outlive what two installs do to one vault: lock
 * objects written and deleted under locks/ at the same time. s3rver 3.7 removed the folder after
 * the last DELETE under it while another PUT had just made it, and died of the PUT's write error
 * (a CI run's concurrent-installs test lost its server this way); emulators.ts keeps the folders.
 */
describe('s3rver emulator (test infrastructure)', () => {
  let em: Emulator;
  let store: VaultStore;
  beforeAll(async () => {
    em = await startS3rver();
    store = await openStore(em.location('vaults', 'race/v'), { credentials: em.credentials, create: true });
  });
  afterAll(async () => {
    await em.dispose();
  });

  it('keeps serving while writers PUT and DELETE objects under one prefix at the same time', async () => {
    const writers = ['a', 'b', 'c', 'd'];
    const rounds = 150;
    await Promise.all(
      writers.map(async (w) => {
        for (let i = 0; i < rounds; i++) {
          const key = `locks/${w}-${i}`;
          await store.put(key, Buffer.from(`${w} ${i}`));
          await store.delete(key);
        }
      }),
    );
    expect(em.running).toBe(true);
    expect(await store.list('locks/')).toEqual([]);
    await store.put('locks/last', Buffer.from('still here'));
    expect((await store.list('locks/')).map((o) => o.key)).toEqual(['locks/last']);
  });
});
