import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { useKafka } from '../helpers/servers.js';
import { settle, until } from '../helpers/wait.js';

// A disabled webhook's backlog waits and resumes when it is enabled again; a deleted webhook's
// deliveries end in the dead-letter topic with the reason. Nothing ends `failed` without a DLQ record.
const api = await startTestApi('backlog', { WEBHOOKS_RETRY_SCHEDULE: '2s,2s,2s,2s,2s', WEBHOOKS_REQUEST_TIMEOUT: '2s' }, [...ALL_ROLES]);
const kafka = await useKafka('backlog-clients');
const producer = await kafka.producer();
const prefix = api.config.topicPrefix;

const letters: Array<{ webhookId: string; error: string; value: any }> = [];
const dlq = await kafka.consumer();
await dlq.subscribe({ topic: `${prefix}.webhooks.dlq`, fromBeginning: true });
await dlq.run({
  eachMessage: async ({ message }) =>
    void letters.push({ webhookId: String(message.key), error: String(message.headers?.['x-humiris-error']), value: JSON.parse(String(message.value)) }),
});

async function deliveries(key: string, webhookId: string): Promise<any[]> {
  const res = await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries`, key);
  expect(res.status).toBe(200);
  return res.json.data;
}


async function failingWebhookWithBacklog(events: number) {
  const key = await api.newKey();
  const workspace = (await api.keys.verify(key))!.workspace;
  const receiver = await startReceiver(() => ({ status: 500 }));
  const created = await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events: ['sms.sent'] });
  const hook = created.json as { id: string };
  await settle(700);
  await producer.send({
    topic: `${prefix}.events.sms.sent`,
    messages: Array.from({ length: events }, (_, n) => ({ value: JSON.stringify({ id: `evt_backlog_${n}`, workspace, data: { n } }) })),
  });
  await receiver.waitFor(events);
  await until('every delivery retrying', async () => {
    const list = await deliveries(key, hook.id);
    return list.length === events && list.every((d) => d.status === 'retrying') ? true : undefined;
  });
  return { key, receiver, hook };
}

describe('a webhook with deliveries waiting for a retry', () => {
  it('keeps them while it is disabled and sends them once it is enabled again', async () => {
    const { key, receiver, hook } = await failingWebhookWithBacklog(3);
    expect((await api.rest('PATCH', `/v1/webhooks/${hook.id}`, key, { status: 'disabled' })).status).toBe(200);
    const sentBefore = receiver.requests.length;
    await settle(5_000); // past their due time

    expect(receiver.requests).toHaveLength(sentBefore);
    const paused = await deliveries(key, hook.id);
    expect(paused.map((d) => d.status)).toEqual(['retrying', 'retrying', 'retrying']);
    expect(paused.every((d) => /disabled/.test(d.last_error))).toBe(true);

    receiver.reply = () => ({ status: 200 });
    expect((await api.rest('PATCH', `/v1/webhooks/${hook.id}`, key, { status: 'active' })).status).toBe(200);
    await until('every delivery succeeded', async () => {
      const list = await deliveries(key, hook.id);
      return list.every((d) => d.status === 'succeeded') ? true : undefined;
    }, 40_000);
    const lastAttempts = receiver.requests.slice(sentBefore).map((r) => r.headers['x-humiris-attempt']);
    expect(lastAttempts.every((a) => a === '2')).toBe(true);
    expect(letters.filter((l) => l.webhookId === hook.id)).toEqual([]);
  }, 90_000);

  it('dead-letters them with the reason when the webhook is deleted', async () => {
    const { key, hook } = await failingWebhookWithBacklog(2);
    expect((await api.rest('DELETE', `/v1/webhooks/${hook.id}`, key)).status).toBe(200);
    const mine = await until('two dead letters', () => {
      const found = letters.filter((l) => l.webhookId === hook.id);
      return found.length === 2 ? found : undefined;
    });
    expect(mine.map((l) => l.error)).toEqual(['webhook deleted', 'webhook deleted']);
    expect(mine.map((l) => l.value.event.data.n).sort()).toEqual([0, 1]);
  }, 60_000);
});
