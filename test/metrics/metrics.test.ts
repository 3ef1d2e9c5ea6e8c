import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { parseMetrics, scrape, type Scrape } from '../helpers/metrics.js';
import { startReceiver } from '../helpers/receiver.js';
import { useKafka } from '../helpers/servers.js';
import { settle, until } from '../helpers/wait.js';

const api = await startTestApi('metrics', { WEBHOOKS_RETRY_SCHEDULE: '1s', WEBHOOKS_REQUEST_TIMEOUT: '2s' }, [...ALL_ROLES]);
// No dispatcher here: its tasks stay in the deliveries topic, as a backlog the lag must show.
const backlog = await startTestApi('metrics-port', { METRICS_PORT: '0' }, ['api', 'matcher']);
const kafka = await useKafka('metrics-clients');
const producer = await kafka.producer();

const M = 'humiris_webhooks_';
const ID = /(whk|dlv|evt|whsec|rcv)_/;

async function webhook(on: TestApi, key: string, url: string, events: string[]): Promise<string> {
  const res = await on.rest('POST', '/v1/webhooks', key, { url, events });
  expect(res.status).toBe(201);
  return res.json.id as string;
}

/** What moved between two scrapes. */
const delta = (before: Scrape, after: Scrape) => (name: string, labels?: Record<string, string>) => after.sum(name, labels) - before.sum(name, labels);

describe('GET /metrics', () => {
  it('moves the delivery, attempt, dead-letter, invalid-event, store and API metrics, with bounded labels', async () => {
    const before = await scrape(api.baseUrl);
    const key = await api.newKey();
    const workspace = (await api.keys.verify(key))!.workspace;
    const ok = await startReceiver();
    const failing = await startReceiver(() => ({ status: 500, body: 'down' }));
    await webhook(api, key, ok.url, ['email.received']);
    await webhook(api, key, failing.url, ['card.decline']);
    await settle(1_200); // subscription changes apply within 1 s

    expect((await api.rest('POST', '/v1/events', key, { type: 'email.received', data: { n: 1 } })).status).toBe(200);
    expect((await api.rest('POST', '/v1/events', key, { type: 'card.decline', data: { n: 2 } })).status).toBe(200);
    expect((await api.rest('GET', '/v1/webhooks')).status).toBe(401);
    await producer.send({ topic: `${api.config.topicPrefix}.events.email.received`, messages: [{ key: 'x', value: 'not json' }] });

    await Promise.all([ok.waitFor(1), failing.waitFor(2)]);
    // The dead letter is written after the last attempt's outcome: wait for it, then for the invalid event.
    const after = await until('the dead letter and the invalid event to be counted', async () => {
      const now = await scrape(api.baseUrl);
      const moved = delta(before, now);
      return moved(`${M}dlq_records_total`) >= 1 && moved(`${M}invalid_events_total`) >= 1 ? now : undefined;
    });
    const moved = delta(before, after);

    expect(moved(`${M}deliveries_total`, { event_type: 'email.received', outcome: 'succeeded' })).toBe(1);
    expect(moved(`${M}deliveries_total`, { event_type: 'card.decline', outcome: 'retrying' })).toBe(1);
    expect(moved(`${M}deliveries_total`, { event_type: 'card.decline', outcome: 'failed' })).toBe(1);
    expect(moved(`${M}deliveries_total`, { event_type: 'card.decline', outcome: 'succeeded' })).toBe(0);
    expect(moved(`${M}attempt_duration_seconds_count`, { status_class: '2xx' })).toBe(1);
    expect(moved(`${M}attempt_duration_seconds_count`, { status_class: '5xx' })).toBe(2);
    expect(moved(`${M}attempt_duration_seconds_count`, { status_class: 'error' })).toBe(0);
    // Two first attempts; the retry is not a first attempt.
    expect(moved(`${M}first_attempt_latency_seconds_count`)).toBe(2);
    expect(moved(`${M}first_attempt_latency_seconds_sum`)).toBeGreaterThan(0);
    expect(after.sum(`${M}sends_in_flight`)).toBe(0);
    expect(moved(`${M}dlq_records_total`)).toBe(1);
    expect(moved(`${M}invalid_events_total`)).toBe(1);
    expect(moved(`${M}store_write_duration_seconds_count`, { operation: 'insert_pending' })).toBe(2);
    expect(moved(`${M}store_write_duration_seconds_count`, { operation: 'record_outcomes' })).toBeGreaterThanOrEqual(3);
    expect(moved(`${M}api_requests_total`, { rpc: 'WebhookService/CreateWebhook', code: 'ok' })).toBe(2);
    expect(moved(`${M}api_requests_total`, { rpc: 'EventService/PublishEvent', code: 'ok' })).toBe(2);
    expect(moved(`${M}api_requests_total`, { rpc: 'WebhookService/ListWebhooks', code: 'unauthenticated' })).toBe(1);
    expect(moved(`${M}api_request_duration_seconds_count`, { rpc: 'EventService/PublishEvent' })).toBe(2);

    // Lag per group, topic and partition, and the depth of the one retry step.
    const prefix = api.config.topicPrefix;
    const lag = after.find(`${M}consumer_lag`, { group: `${prefix}-webhooks-matcher`, topic: `${prefix}.events.email.received` });
    expect(lag.map((s) => s.labels.partition).sort()).toEqual(['0', '1']);
    expect(after.find(`${M}consumer_lag`, { group: `${prefix}-webhooks-dispatcher`, topic: `${prefix}.webhooks.deliveries` })).toHaveLength(2);
    expect(after.find(`${M}retry_topic_depth`).map((s) => s.labels)).toEqual([{ step: '1s', topic: `${prefix}.webhooks.retry-1s` }]);

    // Process metrics under their standard names.
    expect(after.sum('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(after.find('nodejs_heap_size_used_bytes')).toHaveLength(1);

    // Labels never carry ids: not a webhook, delivery or event id, nor the workspace.
    const values = after.samples.flatMap((s) => Object.values(s.labels));
    expect(values.length).toBeGreaterThan(100);
    expect(values.filter((v) => ID.test(v) || v.includes(workspace))).toEqual([]);
  });

  it('with METRICS_PORT serves them on that port only, and shows a dispatch backlog as consumer lag', async () => {
    const metricsUrl = `http://127.0.0.1:${backlog.service.metricsPort}`;
    expect(backlog.service.metricsPort).toBeGreaterThan(0);
    expect(backlog.service.metricsPort).not.toBe(backlog.service.apiPort);
    expect((await fetch(`${backlog.baseUrl}/metrics`)).status).toBe(404);
    expect((await fetch(`${metricsUrl}/other`)).status).toBe(404);

    const key = await backlog.newKey();
    const receiver = await startReceiver();
    await webhook(backlog, key, receiver.url, ['sms.sent']);
    await settle(1_200);
    for (let n = 0; n < 3; n++) expect((await backlog.rest('POST', '/v1/events', key, { type: 'sms.sent', data: { n } })).status).toBe(200);

    const prefix = backlog.config.topicPrefix;
    const dispatcherLag = { group: `${prefix}-webhooks-dispatcher`, topic: `${prefix}.webhooks.deliveries` };
    // Offsets are read at most every 5 s, so the backlog shows within a few scrapes.
    const after = await until('the dispatch backlog to show as lag', async () => {
      const now = await scrape(metricsUrl);
      return now.sum('humiris_webhooks_consumer_lag', dispatcherLag) === 3 ? now : undefined;
    });
    expect(after.find('humiris_webhooks_consumer_lag', dispatcherLag).map((s) => s.labels.partition).sort()).toEqual(['0', '1']);
    // The matcher took all three events: its lag on their topic is back to 0.
    await until('the matcher to commit', async () => {
      const now = await scrape(metricsUrl);
      return now.sum('humiris_webhooks_consumer_lag', { group: `${prefix}-webhooks-matcher`, topic: `${prefix}.events.sms.sent` }) === 0 ? true : undefined;
    });
    expect(after.sum('humiris_webhooks_api_requests_total', { rpc: 'EventService/PublishEvent', code: 'ok' })).toBe(3);
    expect(receiver.requests).toHaveLength(0);
  });

  it('parses what it reads', () => {
    const parsed = parseMetrics('# TYPE a_total counter\na_total{x="1",y="q\\"z"} 3\na_total{x="2"} 4\n');
    expect(parsed.types.get('a_total')).toBe('counter');
    expect(parsed.sum('a_total')).toBe(7);
    expect(parsed.find('a_total', { y: 'q"z' })).toHaveLength(1);
  });
});
