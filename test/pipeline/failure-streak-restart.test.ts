import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { ALL_ROLES, loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { startService, type Service } from '../../src/main.js';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { startReceiver } from '../helpers/receiver.js';
import { mongodbUri } from '../helpers/servers.js';
import { serviceProcessEnv } from '../helpers/service.js';
import { settle, until } from '../helpers/wait.js';

// A failure streak outlives its process: a restarted service goes on from the stored streak
// (webhook_health) instead of counting 10 failures and the whole window again.
const config = loadConfig(
  await serviceProcessEnv('streak', {
    WEBHOOKS_ALLOW_PRIVATE_URLS: 'true',
    WEBHOOKS_RETRY_SCHEDULE: '100ms,100ms',
    WEBHOOKS_DISABLE_AFTER: '3s',
    LOG_LEVEL: 'error',
  }),
);
const database = config.mongodbDatabase;
const logger = createLogger({ level: config.logLevel, name: 'streak' });
const client = await MongoClient.connect(mongodbUri());
afterAll(() => client.close());
const db = client.db(database);
const key = (await new ApiKeyStore(db).create('streak-ws', 'test')).key;

async function rest(service: Service, method: string, route: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${service.apiPort}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

describe('a failure streak across a restart', () => {
  it('is stored by the first process and carried on by the next', async () => {
    const failing = await startReceiver(() => ({ status: 500 }));
    const first = await startService(config, [...ALL_ROLES], logger);
    let second: Service | undefined;
    try {
      const hook = (await rest(first, 'POST', '/v1/webhooks', { url: failing.url, events: ['sms.sent'] })).json;
      await settle(700);
      for (let n = 0; n < 4; n++) expect((await rest(first, 'POST', '/v1/events', { type: 'sms.sent', data: { n } })).status).toBeLessThan(300);
      await failing.waitFor(12, 30_000); // 4 deliveries × 3 attempts, all failed
      await settle(300);
      await first.stop(); // writes what is pending
      const stored = await db.collection('webhook_health').findOne({ webhookId: hook.id });
      expect(stored?.failures).toHaveLength(10);

      // Past the window from the first failure: a single failed attempt of the next process disables it.
      const firstFailure = failing.requests[0]!.at;
      await settle(Math.max(0, firstFailure + 3_200 - Date.now()));
      second = await startService(config, [...ALL_ROLES], logger);
      const sentBefore = failing.requests.length;
      await settle(700);
      expect((await rest(second, 'POST', '/v1/events', { type: 'sms.sent', data: { n: 9 } })).status).toBeLessThan(300);
      const disabled = await until('the webhook disabled by the second process', async () => {
        const got = await rest(second!, 'GET', `/v1/webhooks/${hook.id}`);
        return got.json.status === 'disabled' ? got.json : undefined;
      });
      expect(disabled.disabled_reason).toMatch(/^every attempt failed since /);
      // The streak began in the first process.
      const since = Date.parse(/since (\S+)/.exec(disabled.disabled_reason)![1]!);
      expect(since).toBeGreaterThanOrEqual(firstFailure);
      expect(since).toBeLessThan(failing.requests[sentBefore]!.at - 3_000);
      // One delivery's attempts (its 100 ms retries come before the change is seen), not the 10 a new streak needs.
      await settle(1_000);
      expect(failing.requests.length - sentBefore).toBeLessThanOrEqual(3);
    } finally {
      await second?.stop();
    }
  }, 90_000);
});
