import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../src/api/server.js';
import { DomainError } from '../../src/domain/errors.js';
import { Health, HealthCheckResponse_ServingStatus } from '../../src/gen/grpc/health/v1/health_pb.js';
import { createLogger } from '../../src/log/logger.js';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { WebhookStore } from '../../src/store/webhook-store.js';

// Nothing listens on port 1: every MongoDB call fails server selection, as during an outage.
const client = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 300 });
const db = client.db('nowhere');
const notRunning = async (): Promise<never> => {
  throw new DomainError('unavailable', 'delivery pipeline not running');
};
const server = await startApiServer({
  config: { port: 0, allowPrivateUrls: true, maxWebhooksPerWorkspace: 10, rateLimitPerMinute: 0 },
  logger: createLogger({ level: 'silent' }),
  host: '127.0.0.1',
  deps: {
    webhooks: new WebhookStore(db),
    apiKeys: new ApiKeyStore(db),
    deliveries: { list: notRunning, get: notRunning, byIds: notRunning, countsByHour: notRunning, failedDeliveries: () => ({ [Symbol.asyncIterator]: () => ({ next: notRunning }) }) },
    actions: { publishEvent: notRunning, publishEvents: notRunning, retry: notRunning, retryMany: notRunning, sendTestEvent: notRunning },
    recoveries: { start: notRunning, get: notRunning },
    ready: () => Promise.reject(new Error('MongoDB does not answer')),
  },
});
afterAll(async () => {
  await server.close();
  await client.close();
});
const baseUrl = `http://127.0.0.1:${server.port}`;

describe('while MongoDB is down', () => {
  it('answers 503 unavailable instead of hanging or claiming the key is wrong', async () => {
    const res = await fetch(`${baseUrl}/v1/webhooks`, { headers: { authorization: `Bearer hum_sk_live_${'a'.repeat(40)}` } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.code).toBe('unavailable');
  });

  it('reports not ready on /readyz and grpc.health.v1.Health, alive on /healthz', async () => {
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as any).reason).toContain('MongoDB');
    const health = createClient(Health, createGrpcTransport({ baseUrl }));
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
  });
});
