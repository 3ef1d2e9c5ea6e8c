import { afterAll, describe, expect, it } from 'vitest';
import { killLeftoverServices, spawnService } from '../../chaos/harness.js';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { startReceiver } from '../helpers/receiver.js';
import { kafkaBrokers, mongodbUri, useKafka, useMongo } from '../helpers/servers.js';
import { settle } from '../helpers/wait.js';

/*
 * The service process (`serve` from dist, built before the run) exports spans in batches every
 * 5 s: spans that ended just before a SIGTERM are still buffered, and the shutdown exports them.
 */
const [{ prefix, producer }, { database, db }] = await Promise.all([useKafka('traces-shutdown'), useMongo('traces-shutdown')]);
afterAll(() => killLeftoverServices());
const keys = new ApiKeyStore(db);
await keys.init();
const { key } = await keys.create('traces-shutdown', 'test');

describe('traces at shutdown', () => {
  it('SIGTERM exports the spans still buffered before the process exits', async () => {
    const otlp = await startOtlpReceiver();
    const receiver = await startReceiver();
    const service = await spawnService('traces-shutdown', {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      MONGODB_URI: mongodbUri(),
      MONGODB_DATABASE: database,
      WEBHOOKS_TOPIC_PREFIX: prefix,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    });
    const created = await fetch(`${service.baseUrl}/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, events: ['*'] }),
    });
    expect(created.status).toBe(201);
    await settle(1_200); // subscription changes apply within 1 s

    const traceId = 'a'.repeat(24) + Date.now().toString(16).padStart(8, '0').slice(-8);
    const kafka = await producer();
    await kafka.send({
      topic: `${prefix}.events.email.received`,
      messages: [{ value: JSON.stringify({ workspace: 'traces-shutdown', data: {} }), headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } }],
    });
    await receiver.waitFor(1, 60_000);
    const sendSpanId = /^00-[0-9a-f]{32}-([0-9a-f]{16})-01$/.exec(String(receiver.requests[0]!.headers.traceparent))?.[1];
    const beforeStop = otlp.spans.filter((s) => s.traceId === traceId && s.name === 'send').length;

    service.kill('SIGTERM');
    const exit = await service.exited;
    expect(exit.code, service.output().split('\n').slice(-15).join('\n')).toBe(0);
    // Not exported before (the batch is 5 s away), exported by the time the process is gone.
    expect(beforeStop).toBe(0);
    const sends = otlp.spans.filter((s) => s.traceId === traceId && s.name === 'send');
    expect(sends.map((s) => s.spanId)).toEqual([sendSpanId]);
    expect(otlp.spans.filter((s) => s.traceId === traceId).map((s) => s.name)).toEqual(expect.arrayContaining(['match', 'send', 'store.record_outcome']));
  }, 120_000);
});
