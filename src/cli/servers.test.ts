import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { onLocalStack } from './servers.js';

const stack = { kafkaBrokers: ['127.0.0.1:9092'], mongodbUri: 'mongodb://127.0.0.1:27017/' };

describe('onLocalStack', () => {
  it('allows webhook URLs on this machine unless WEBHOOKS_ALLOW_PRIVATE_URLS says otherwise', () => {
    expect(onLocalStack(loadConfig({}), stack).allowPrivateUrls).toBe(true);
    expect(onLocalStack(loadConfig({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'false' }), stack).allowPrivateUrls).toBe(false);
    expect(onLocalStack(loadConfig({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true' }), stack).allowPrivateUrls).toBe(true);
  });

  it('takes from the stack only what is not configured', () => {
    const config = onLocalStack(loadConfig({ KAFKA_BROKERS: 'kafka:9092' }), stack);
    expect(config).toMatchObject({ kafkaBrokers: ['kafka:9092'], mongodbUri: stack.mongodbUri, localStack: true });
  });
});
