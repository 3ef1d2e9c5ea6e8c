import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { defineMetrics, type MetricSet } from './definitions.js';

/** The families and label names of a Prometheus text, sample by sample. */
function shape(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/="[^"]*"/g, '').replace(/\s.*$/, ''));
}

function worker(fill: (m: MetricSet) => void): MetricSet {
  const set = defineMetrics();
  fill(set);
  return set;
}

describe('metrics summed over the workers of serve --workers', () => {
  const fill = (deliveries: number, lag: number) => (m: MetricSet) => {
    m.deliveries.inc({ event_type: 'email.received', outcome: 'succeeded' }, deliveries);
    m.attemptDuration.observe({ status_class: '2xx' }, 0.02);
    m.consumerLag.set({ group: 'g', topic: 't', partition: '0' }, lag);
    m.retryDepth.set({ step: '30s', topic: 'r' }, lag);
    m.retentionLastSweep.set(1_000 + deliveries);
    m.sendsInFlight.set(deliveries);
  };

  it('add up counts, keep one Kafka reading, and keep every name and label of one process', async () => {
    const a = worker(fill(3, 7));
    const b = worker(fill(4, 5));
    const summed = await AggregatorRegistry.aggregate([await a.registry.getMetricsAsJSON(), await b.registry.getMetricsAsJSON()]).metrics();
    const value = (sample: string) => Number(new RegExp(`^${sample.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(summed)?.[1]);

    expect(value('humiris_webhooks_deliveries_total{event_type="email.received",outcome="succeeded"}')).toBe(7);
    expect(value('humiris_webhooks_attempt_duration_seconds_count{status_class="2xx"}')).toBe(2);
    expect(value('humiris_webhooks_sends_in_flight')).toBe(7);
    // Every worker reads the same offsets: the service's lag is one reading, not twice it.
    expect(value('humiris_webhooks_consumer_lag{group="g",topic="t",partition="0"}')).toBe(7);
    expect(value('humiris_webhooks_retry_topic_depth{step="30s",topic="r"}')).toBe(7);
    expect(value('humiris_webhooks_retention_last_sweep_timestamp_seconds')).toBe(1_004);
    expect(value('process_start_time_seconds')).toBeGreaterThan(0);

    // Same families, label names and series as one process's answer: dashboards and alerts read either.
    const single = await a.registry.metrics();
    expect(shape(summed).sort()).toEqual(shape(single).sort());
    const types = (text: string) => text.split('\n').filter((l) => l.startsWith('# TYPE')).sort();
    expect(types(summed)).toEqual(types(single));
  });
});
