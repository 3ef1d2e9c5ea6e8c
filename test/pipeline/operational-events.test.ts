import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { customerVerifies, startReceiver, type Receiver } from '../helpers/receiver.js';
import { useKafka } from '../helpers/servers.js';
import { settle, until } from '../helpers/wait.js';

// Auto-disable after sustained failure (shortened to 2 s here) or a 410, and the operational
// events about it: on the Kafka topic, and signed to the workspace's operational webhook.
const api = await startTestApi(
  'operational',
  { WEBHOOKS_RETRY_SCHEDULE: '300ms,300ms', WEBHOOKS_DISABLE_AFTER: '2s', WEBHOOKS_REQUEST_TIMEOUT: '3s' },
  [...ALL_ROLES],
);
const kafka = await useKafka('operational-clients');
const prefix = api.config.topicPrefix;
const OPERATIONAL = ['webhook.disabled', 'delivery.exhausted', 'webhook.recovered'];

const records: Array<{ key: string; headers: Record<string, string>; value: any }> = [];
const consumer = await kafka.consumer();
await consumer.subscribe({ topic: `${prefix}.webhooks.operational`, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ message }) =>
    void records.push({
      key: String(message.key),
      headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
      value: JSON.parse(String(message.value)),
    }),
});

interface Workspace {
  key: string;
  workspace: string;
  /** The operational webhook's receiver and signing secret. */
  ops: Receiver;
  opsSecret: string;
  opsId: string;
}

async function workspaceWithOperationalWebhook(answer: number = 200): Promise<Workspace> {
  const key = await api.newKey();
  const workspace = (await api.keys.verify(key))!.workspace;
  const ops = await startReceiver(() => ({ status: answer }));
  const created = await api.rest('POST', '/v1/webhooks', key, { url: ops.url, events: OPERATIONAL, description: 'operational' });
  expect(created.status).toBe(201);
  return { key, workspace, ops, opsSecret: created.json.signing_secret, opsId: created.json.id };
}

async function webhook(key: string, receiver: Receiver, events = ['sms.sent']): Promise<string> {
  const created = await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events });
  expect(created.status).toBe(201);
  return created.json.id;
}

const publish = (key: string, n: number) => api.rest('POST', '/v1/events', key, { type: 'sms.sent', data: { n } });

/** The operational requests of one type about one webhook, each checked as a customer checks a signature. */
function notices(ws: Workspace, type: string, webhookId: string) {
  return ws.ops.requests
    .filter((r) => r.json?.type === type && r.json.data.webhook_id === webhookId)
    .map((r) => {
      expect(customerVerifies(String(r.headers['x-humiris-signature']), r.body, ws.opsSecret)).toBe(true);
      return r.json;
    });
}

const kafkaRecords = (type: string, webhookId: string) => records.filter((r) => r.key === webhookId && r.value.type === type);

describe('auto-disable after sustained failure', () => {
  it('disables a webhook whose attempts all failed for the window, with the reason, and tells of it', async () => {
    const ws = await workspaceWithOperationalWebhook();
    const failing = await startReceiver(() => ({ status: 500 }));
    const hookId = await webhook(ws.key, failing);
    // Subscribed to every event type: still gets none of the operational ones.
    const everything = await startReceiver();
    await webhook(ws.key, everything, ['*']);
    await settle(700);

    let n = 0;
    const disabled = await until('the webhook disabled', async () => {
      const got = await api.rest('GET', `/v1/webhooks/${hookId}`, ws.key);
      if (got.json.status === 'disabled') return got.json;
      if (n < 40) expect((await publish(ws.key, n++)).status).toBeLessThan(300);
      await settle(250);
      return undefined;
    }, 40_000);

    expect(disabled.disabled_reason).toMatch(/^every attempt failed since \S+ \(10 or more failed attempts; last: status 500\)$/);
    const disabledAt = Date.parse(disabled.disabled_at);
    const before = failing.requests.filter((r) => r.at <= disabledAt + 50);
    expect(before.length).toBeGreaterThanOrEqual(10);
    expect(disabledAt - failing.requests[0]!.at).toBeGreaterThanOrEqual(2_000 - 50);

    // Nothing more is sent to it once disabled (the cache sees the change within 1 s).
    await settle(1_500);
    const sentAfter = failing.requests.length;
    await settle(1_500);
    expect(failing.requests.length).toBe(sentAfter);

    const [notice] = await until('webhook.disabled at the operational webhook', () => {
      const found = notices(ws, 'webhook.disabled', hookId);
      return found.length > 0 ? found : undefined;
    });
    expect(notice).toMatchObject({ type: 'webhook.disabled', agent: null, data: { webhook_id: hookId, url: failing.url, reason: disabled.disabled_reason, last_response_status: 500 } });
    // The same instant, written two ways: the API's Timestamp drops a zero fraction (…:32Z), the event keeps it (…:32.000Z).
    expect(Date.parse(notice.data.disabled_at)).toBe(Date.parse(disabled.disabled_at));
    expect(notice.data.failed_attempts).toBe(10);
    expect(Date.parse(notice.data.disabled_at) - Date.parse(notice.data.failing_since)).toBeGreaterThanOrEqual(2_000);

    const [record] = await until('webhook.disabled on the operational topic', () => {
      const found = kafkaRecords('webhook.disabled', hookId);
      return found.length > 0 ? found : undefined;
    });
    expect(Object.keys(record!.value)).toEqual(['id', 'type', 'workspace', 'created_at', 'data']);
    expect(record!.value).toMatchObject({ id: notice.id, workspace: ws.workspace, data: notice.data });
    expect(record!.headers['x-humiris-event']).toBe('webhook.disabled');
    expect(notices(ws, 'webhook.disabled', hookId)).toHaveLength(1);

    expect(everything.requests.length).toBeGreaterThan(0);
    expect(everything.requests.filter((r) => OPERATIONAL.includes(r.json?.type))).toEqual([]);

    // Enabled by hand: the reason is cleared, and the streak starts again from nothing.
    const enabled = await api.rest('PATCH', `/v1/webhooks/${hookId}`, ws.key, { status: 'active' });
    expect(enabled.status).toBe(200);
    expect(enabled.json.status).toBe('active');
    expect(enabled.json.disabled_reason ?? '').toBe('');
    expect(enabled.json.disabled_at).toBeUndefined();
    await settle(1_000);
    await publish(ws.key, 100);
    await settle(2_000);
    expect((await api.rest('GET', `/v1/webhooks/${hookId}`, ws.key)).json.status).toBe('active');
  }, 90_000);

  it('disables at once a webhook that answers 410 Gone', async () => {
    const ws = await workspaceWithOperationalWebhook();
    const gone = await startReceiver(() => ({ status: 410, body: 'gone' }));
    const hookId = await webhook(ws.key, gone);
    await settle(700);
    await publish(ws.key, 1);
    const disabled = await until('the webhook disabled', async () => {
      const got = await api.rest('GET', `/v1/webhooks/${hookId}`, ws.key);
      return got.json.status === 'disabled' ? got.json : undefined;
    });
    expect(disabled.disabled_reason).toBe('endpoint answered 410 Gone');
    // Disabled by the first answer, not after a streak.
    expect(Date.parse(disabled.disabled_at) - gone.requests[0]!.at).toBeLessThan(1_000);
    const [notice] = await until('webhook.disabled', () => {
      const found = notices(ws, 'webhook.disabled', hookId);
      return found.length > 0 ? found : undefined;
    });
    expect(notice.data).toMatchObject({ reason: 'endpoint answered 410 Gone', last_response_status: 410, failed_attempts: 1 });
    expect(notice.data.failing_since).toBeUndefined();
    // A retry due within the half second the dispatchers take to see the change may still go (the
    // 300ms schedule here); nothing after that.
    await settle(1_500);
    const sent = gone.requests.length;
    expect(sent).toBeLessThanOrEqual(2);
    await settle(1_500);
    expect(gone.requests).toHaveLength(sent);
  }, 60_000);
});

describe('operational events about deliveries', () => {
  it('sends delivery.exhausted when a delivery is dead-lettered, and webhook.recovered at the first success after failures', async () => {
    const ws = await workspaceWithOperationalWebhook();
    const dead = await startReceiver(() => ({ status: 503 }));
    const deadId = await webhook(ws.key, dead, ['sms.sent']);
    const flaky = await startReceiver((_r, index) => ({ status: index < 2 ? 500 : 200 }));
    const flakyId = await webhook(ws.key, flaky, ['sms.received']);
    await settle(700);
    await publish(ws.key, 1);
    await api.rest('POST', '/v1/events', ws.key, { type: 'sms.received', data: { n: 2 } });

    const [exhausted] = await until('delivery.exhausted', () => {
      const found = notices(ws, 'delivery.exhausted', deadId);
      return found.length > 0 ? found : undefined;
    });
    const deliveries = (await api.rest('GET', `/v1/webhooks/${deadId}/deliveries`, ws.key)).json.data;
    expect(deliveries[0].status).toBe('failed');
    expect(exhausted.data).toMatchObject({ delivery_id: deliveries[0].id, event_type: 'sms.sent', attempt_count: 3, last_error: 'status 503' });
    await until('delivery.exhausted on the topic', () => (kafkaRecords('delivery.exhausted', deadId).length > 0 ? true : undefined));

    const [recovered] = await until('webhook.recovered', () => {
      const found = notices(ws, 'webhook.recovered', flakyId);
      return found.length > 0 ? found : undefined;
    });
    expect(recovered.data).toMatchObject({ webhook_id: flakyId, url: flaky.url, failed_attempts: 2 });
    expect(Date.parse(recovered.data.recovered_at)).toBeGreaterThan(Date.parse(recovered.data.failing_since));
    await until('webhook.recovered on the topic', () => (kafkaRecords('webhook.recovered', flakyId).length > 0 ? true : undefined));
    // The operational deliveries are deliveries of the operational webhook like any other.
    const opsDeliveries = (await api.rest('GET', `/v1/webhooks/${ws.opsId}/deliveries?event_type=webhook.recovered`, ws.key)).json.data;
    expect(opsDeliveries.map((d: any) => d.event_type)).toEqual(['webhook.recovered']);
  }, 60_000);

  it('tells of an operational webhook\'s own failures on the topic only: no loop', async () => {
    const ws = await workspaceWithOperationalWebhook(500);
    const dead = await startReceiver(() => ({ status: 500 }));
    const deadId = await webhook(ws.key, dead);
    await settle(700);
    await publish(ws.key, 1);
    // The domain delivery is exhausted; its notice to the operational webhook fails 3 times and is exhausted too.
    await until('the operational delivery exhausted on the topic', () =>
      kafkaRecords('delivery.exhausted', ws.opsId).length > 0 ? true : undefined,
    );
    const record = kafkaRecords('delivery.exhausted', ws.opsId)[0]!;
    expect(record.value.data.event_type).toBe('delivery.exhausted');
    await settle(3_000);
    // One notice (about the domain delivery), three attempts of it, and nothing about itself.
    expect(ws.ops.requests).toHaveLength(3);
    expect(ws.ops.requests.every((r) => r.json.type === 'delivery.exhausted' && r.json.data.webhook_id === deadId)).toBe(true);
  }, 60_000);
});
