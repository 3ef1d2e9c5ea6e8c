import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../src/bus/kafka.js';
import { createLogger } from '../../src/log/logger.js';
import { kafkaBrokers } from '../helpers/servers.js';

const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as { prototype: { checkPendingRequests(): void } };

describe('Kafka client at rest', () => {
  const admin = createKafka(kafkaBrokers(), createLogger({ level: 'silent' }), { clientId: 'idle-test' }).admin();
  afterAll(() => admin.disconnect());

  it('does not wake the process to look for requests when none waits', async () => {
    await admin.connect();
    await admin.listTopics();
    const original = RequestQueue.prototype.checkPendingRequests;
    let checks = 0;
    RequestQueue.prototype.checkPendingRequests = function (this: unknown) {
      checks++;
      return original.call(this);
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      RequestQueue.prototype.checkPendingRequests = original;
    }
    // kafkajs 2.2.4 alone re-arms a 1 ms timer per connection after every response: hundreds here.
    expect(checks).toBeLessThan(5);
    // Requests still go out and come back once it was quiet.
    expect(Array.isArray(await admin.listTopics())).toBe(true);
  });
});
