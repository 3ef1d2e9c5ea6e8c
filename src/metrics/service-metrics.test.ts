import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { topicNames } from '../bus/topics.js';
import { DEFERRED_SLOW_ENDPOINT, DEFERRED_WORKSPACE_BUSY } from '../pipeline/endpoint-lanes.js';
import { defineMetrics } from './definitions.js';
import { watchConsumerLag } from './kafka-lag.js';
import { holdBackLabel, ServiceMetrics, statusClass } from './service-metrics.js';

describe('metric labels', () => {
  it('map a response status to its class, and no response to error', () => {
    expect([200, 204, 299, 301, 399, 400, 410, 429, 500, 503, 599, 0, 100, 600].map(statusClass)).toEqual([
      '2xx', '2xx', '2xx', '3xx', '3xx', '4xx', '4xx', '4xx', '5xx', '5xx', '5xx', 'error', 'error', 'error',
    ]);
  });

  it('map the hold-back reasons to a bounded set', () => {
    expect(holdBackLabel(DEFERRED_SLOW_ENDPOINT)).toBe('slow-endpoint');
    expect(holdBackLabel(DEFERRED_WORKSPACE_BUSY)).toBe('workspace-limit');
    expect(holdBackLabel('paused: webhook disabled')).toBe('webhook-disabled');
    expect(holdBackLabel('something new whk_123')).toBe('other');
  });

  it('count an event type outside the known set as other', async () => {
    const set = defineMetrics();
    const metrics = new ServiceMetrics(set);
    metrics.deliveryOutcome('email.received', 'succeeded');
    metrics.deliveryOutcome('evt_made.up', 'failed');
    const values = (await set.deliveries.get()).values.map((v) => v.labels);
    expect(values).toEqual([
      { event_type: 'email.received', outcome: 'succeeded' },
      { event_type: 'other', outcome: 'failed' },
    ]);
  });
});

describe('consumer lag', () => {
  it('reads Kafka offsets at most once per interval however often it is scraped', async () => {
    const topics = topicNames('p', [{ label: '1s', delayMs: 1_000 }]);
    let reads = 0;
    const admin = {
      async fetchTopicOffsets() {
        reads++;
        return [{ partition: 0, offset: '10', high: '10', low: '2' }];
      },
      async fetchOffsets({ topics: read }: { topics: string[] }) {
        return read.map((topic) => ({ topic, partitions: [{ partition: 0, offset: topic === topics.deliveries ? '-1' : '7', metadata: null }] }));
      },
    } as unknown as Admin;
    const set = defineMetrics();
    watchConsumerLag(admin, topics, [{ label: '1s', delayMs: 1_000 }], set, (error) => {
      throw error;
    });
    await Promise.all([set.registry.metrics(), set.registry.metrics()]);
    await set.registry.metrics();
    const topicCount = topics.allEvents.length + 1 + topics.retries.length;
    expect(reads).toBe(topicCount);
    const lag = (await set.consumerLag.get()).values;
    // Committed 7 of 10; a group with no commit yet lags from the earliest offset (2).
    expect(lag.find((v) => v.labels.topic === topics.event('email.received'))?.value).toBe(3);
    expect(lag.find((v) => v.labels.topic === topics.deliveries)?.value).toBe(8);
    expect((await set.retryDepth.get()).values).toEqual([{ labels: { step: '1s', topic: 'p.webhooks.retry-1s' }, value: 3 }]);
  });
});
