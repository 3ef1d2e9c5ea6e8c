import { describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { useMongo, watchReads } from '../helpers/servers.js';
import { settle } from '../helpers/wait.js';

describe('ApiKeyStore', () => {
  it('reads a verified key once, and forgets it on every instance within 1 s of a revocation', async () => {
    const { database } = await useMongo('apikeys');
    // Two instances sharing the database; the first one's reads of api_keys are counted.
    const watched = await watchReads(database);
    const keyReads = () => watched.reads.filter((r) => r.command === 'find' && r.collection === 'api_keys');
    const first = new ApiKeyStore(watched.db);
    const second = new ApiKeyStore((await useMongo('apikeys-other')).client.db(database));
    await first.init();
    const { key } = await second.create('cache-team', 'ci');

    for (let i = 0; i < 20; i++) expect(await first.verify(key)).toMatchObject({ workspace: 'cache-team' });
    expect(keyReads()).toHaveLength(1);

    const revokedAt = Date.now();
    await second.revoke(key.slice(0, 16));
    while ((await first.verify(key)) !== null) {
      expect(Date.now() - revokedAt).toBeLessThan(1_000);
      await settle(20);
    }
    expect(await second.verify(key)).toBeNull();
  });
});
