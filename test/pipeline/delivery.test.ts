import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { customerVerifies, startReceiver, type Receiver } from '../helpers/receiver.js';
import { useKafka } from '../helpers/servers.js';
import { settle } from '../helpers/wait.js';

const api = await startTestApi(
  'pipeline',
  { WEBHOOKS_RETRY_SCHEDULE: '1s,1s,1s,1s,1s', WEBHOOKS_REQUEST_TIMEOUT: '1s' },
  [...ALL_ROLES],
);
const kafka = await useKafka('pipeline-clients');
const producer = await kafka.producer();
const prefix = api.config.topicPrefix;

async function createWebhook(key: string, body: Record<string, unknown>) {
  const res = await api.rest('POST', '/v1/webhooks', key, body);
  expect(res.status).toBe(201);
  return res.json as { id: string; signing_secret: string };
}

async function produce(type: string, event: Record<string, unknown>, headers?: Record<string, string>) {
  await producer.send({ topic: `${prefix}.events.${type}`, messages: [{ key: String(event.workspace), value: JSON.stringify(event), headers }] });
}


async function deliveryOf(key: string, webhookId: string, predicate: (d: any) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries`, key);
    const found = (list.json.data as any[]).find(predicate);
    if (found) return (await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries/${found.id}`, key)).json;
    if (Date.now() > deadline) throw new Error(`no matching delivery: ${JSON.stringify(list.json.data)}`);
    await settle(200);
  }
}

function expectSigned(receiver: Receiver, secret: string) {
  for (const request of receiver.requests) {
    expect(customerVerifies(String(request.headers['x-humiris-signature']), request.body, secret)).toBe(true);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^Humiris-Webhooks\/\d+\.\d+\.\d+$/);
    expect(request.headers['x-humiris-delivery']).toMatch(/^dlv_/);
    expect(request.headers['x-humiris-event']).toBe(request.json.type);
  }
}

describe('delivery pipeline', () => {
  it('delivers each event, signed, to exactly the webhooks that match it', async () => {
    const [keyA, keyB] = [await api.newKey(), await api.newKey()];
    const wsA = (await api.keys.verify(keyA))!.workspace;
    const wsB = (await api.keys.verify(keyB))!.workspace;
    const receivers = await Promise.all([startReceiver(), startReceiver(), startReceiver(), startReceiver()]);
    const [emails, bot1, captures, other] = receivers;
    const hooks = [
      await createWebhook(keyA, { url: emails!.url, events: ['email.received'], agent: null }),
      await createWebhook(keyA, { url: bot1!.url, events: ['*'], agent: 'bot-1' }),
      await createWebhook(keyA, { url: captures!.url, events: ['card.capture'] }),
      await createWebhook(keyB, { url: other!.url, events: ['*'] }),
    ];
    await settle(600); // subscription changes apply within 1 s

    await produce('email.received', { id: 'evt_e1', workspace: wsA, agent: 'bot-1', data: { n: 1 } });
    await produce('email.received', { id: 'evt_e2', workspace: wsA, agent: 'bot-2', data: { n: 2 } });
    await produce('card.capture', { id: 'evt_e3', workspace: wsA, agent: null, data: { n: 3 } });
    await produce('sms.sent', { id: 'evt_e4', workspace: wsB, data: { n: 4 } });
    await produce('sms.sent', { id: 'evt_e5', type: 'sms.sent', workspace: wsA, agent: 'bot-1', data: { n: 5 } });

    await Promise.all([emails!.waitFor(2), bot1!.waitFor(2), captures!.waitFor(1), other!.waitFor(1)]);
    await settle(1_000); // nothing more arrives
    const ids = (r: Receiver) => r.requests.map((q) => q.json.id).sort();
    expect(ids(emails!)).toEqual(['evt_e1', 'evt_e2']);
    expect(ids(bot1!)).toEqual(['evt_e1', 'evt_e5']);
    expect(ids(captures!)).toEqual(['evt_e3']);
    expect(ids(other!)).toEqual(['evt_e4']);
    receivers.forEach((r, i) => expectSigned(r, hooks[i]!.signing_secret));

    const body = captures!.requests[0]!.json;
    expect(Object.keys(body)).toEqual(['id', 'type', 'created_at', 'agent', 'data']);
    expect(body).toMatchObject({ type: 'card.capture', agent: null, data: { n: 3 } });
    expect(captures!.requests[0]!.headers['x-humiris-webhook']).toBe(hooks[2]!.id);
    expect(captures!.requests[0]!.headers['x-humiris-attempt']).toBe('1');
    const delivery = await deliveryOf(keyA, hooks[2]!.id, (d) => d.status === 'succeeded');
    expect(delivery).toMatchObject({ event_id: 'evt_e3', event_type: 'card.capture', attempt_count: 1, last_response_status: 200 });
  });

  it('retries a failing endpoint on the schedule, then fails it and dead-letters it once', async () => {
    const key = await api.newKey();
    const failing = await startReceiver(() => ({ status: 500, body: 'down for maintenance' }));
    const hook = await createWebhook(key, { url: failing.url, events: ['call.ended'] });
    const dlq = await kafka.consumer();
    await dlq.subscribe({ topic: `${prefix}.webhooks.dlq`, fromBeginning: true });
    const letters: any[] = [];
    await dlq.run({ eachMessage: async ({ message }) => void letters.push(message) });
    await settle(600);

    await produce('call.ended', { id: 'evt_retry', workspace: (await api.keys.verify(key))!.workspace, data: {} });
    const requests = await failing.waitFor(6, 30_000);
    const delivery = await deliveryOf(key, hook.id, (d) => d.status === 'failed', 10_000);
    await settle(1_500);

    expect(failing.requests).toHaveLength(6);
    expect(new Set(requests.map((r) => r.headers['x-humiris-delivery']))).toEqual(new Set([delivery.id]));
    expect(requests.map((r) => r.headers['x-humiris-attempt'])).toEqual(['1', '2', '3', '4', '5', '6']);
    for (let i = 1; i < requests.length; i++) expect(requests[i]!.at - requests[i - 1]!.at).toBeGreaterThanOrEqual(1_000);
    expect(delivery.attempts).toHaveLength(6);
    expect(delivery.attempts[5]).toMatchObject({ number: 6, response_status: 500, error: 'status 500' });
    expect(delivery.attempts[0].response_body_excerpt).toBe('down for maintenance');

    const mine = letters.filter((m) => m.key.toString() === hook.id);
    expect(mine).toHaveLength(1);
    const headers = Object.fromEntries(Object.entries(mine[0].headers).map(([k, v]) => [k, String(v)]));
    expect(headers).toMatchObject({ 'x-humiris-error': 'status 500', 'x-humiris-attempts': '6', 'x-humiris-original-topic': `${prefix}.events.call.ended` });
    const letter = JSON.parse(mine[0].value.toString());
    expect(letter).toMatchObject({ webhook_id: hook.id, last_error: 'status 500', event: { id: 'evt_retry', type: 'call.ended' } });
    expect(letter.delivery.attempts).toHaveLength(6);
    expect(JSON.stringify(letter)).not.toContain(hook.signing_secret);

    // Replay: one manual attempt through the pipeline.
    failing.reply = () => ({ status: 200 });
    const replay = await api.rest('POST', `/v1/webhooks/${hook.id}/deliveries/${delivery.id}/retry`, key);
    expect(replay.status).toBe(200);
    await failing.waitFor(7);
    const replayed = await deliveryOf(key, hook.id, (d) => d.id === delivery.id && d.status === 'succeeded');
    expect(replayed.attempts).toHaveLength(7);
    expect(replayed.attempts[6]).toMatchObject({ number: 7, manual: true, response_status: 200 });
    expect(failing.requests[6]!.headers['x-humiris-delivery']).toBe(delivery.id);
  });

  it('succeeds on the third attempt after two failures, and times out a hanging endpoint', async () => {
    const key = await api.newKey();
    const workspace = (await api.keys.verify(key))!.workspace;
    const flaky = await startReceiver((_, i) => (i < 2 ? { status: 503 } : { status: 204 }));
    const hanging = await startReceiver(() => 'hang');
    const flakyHook = await createWebhook(key, { url: flaky.url, events: ['card.refund'] });
    const hangingHook = await createWebhook(key, { url: hanging.url, events: ['card.decline'] });
    await settle(600);
    await produce('card.refund', { workspace, data: {} });
    await produce('card.decline', { workspace, data: {} });

    const succeeded = await deliveryOf(key, flakyHook.id, (d) => d.status === 'succeeded', 20_000);
    expect(succeeded.attempts.map((a: any) => a.response_status)).toEqual([503, 503, 204]);
    const timedOut = await deliveryOf(key, hangingHook.id, (d) => d.attempt_count >= 1 && d.status === 'retrying');
    expect(timedOut.attempts[0]).toMatchObject({ response_status: 0, error: 'timeout after 1000 ms' });
  });

  it('creates one delivery per webhook when the same event id is produced twice', async () => {
    const key = await api.newKey();
    const workspace = (await api.keys.verify(key))!.workspace;
    const receiver = await startReceiver();
    const hook = await createWebhook(key, { url: receiver.url, events: ['agent.created'] });
    await settle(600);
    const event = { id: 'evt_twice', workspace, data: { name: 'x' } };
    await produce('agent.created', event);
    await receiver.waitFor(1);
    await produce('agent.created', event);
    await settle(2_000);
    expect(receiver.requests).toHaveLength(1);
    const list = await api.rest('GET', `/v1/webhooks/${hook.id}/deliveries`, key);
    expect(list.json.data).toHaveLength(1);
  });

  it('quarantines invalid events with their reason and keeps delivering', async () => {
    const key = await api.newKey();
    const workspace = (await api.keys.verify(key))!.workspace;
    const receiver = await startReceiver();
    await createWebhook(key, { url: receiver.url, events: ['wallet.transfer.in'] });
    const invalid = await kafka.consumer();
    await invalid.subscribe({ topic: `${prefix}.webhooks.invalid-events`, fromBeginning: true });
    const quarantined: any[] = [];
    await invalid.run({ eachMessage: async ({ message }) => void quarantined.push(message) });
    await settle(600);

    const topic = `${prefix}.events.wallet.transfer.in`;
    await producer.send({
      topic,
      messages: [
        { value: 'not json at all' },
        { value: JSON.stringify({ workspace, data: 'text' }) },
        { value: JSON.stringify({ workspace, type: 'sms.sent', data: {} }) },
        { value: Buffer.from([1, 2, 3, 255]), headers: { 'content-type': 'application/x-protobuf' } },
        { value: JSON.stringify({ id: 'evt_valid_after', workspace, data: { ok: true } }) },
      ],
    });
    await receiver.waitFor(1);
    expect(receiver.requests[0]!.json.id).toBe('evt_valid_after');
    const deadline = Date.now() + 10_000;
    while (quarantined.length < 4 && Date.now() < deadline) await settle(100);
    const reasons = quarantined.map((m) => String(m.headers['x-humiris-error'])).sort();
    expect(reasons).toEqual([
      'data must be a JSON object',
      expect.stringContaining('not JSON'),
      expect.stringContaining('not a valid protobuf Event'),
      expect.stringContaining('does not match'),
    ]);
    const notJson = quarantined.find((m) => m.value.toString() === 'not json at all');
    expect(String(notJson.headers['x-humiris-original-topic'])).toBe(topic);
    expect(String(notJson.headers['x-humiris-original-offset'])).toMatch(/^\d+$/);
  });

  it('signs with both secrets during a rotation overlap, then with the new one only', async () => {
    const key = await api.newKey();
    const workspace = (await api.keys.verify(key))!.workspace;
    const receiver = await startReceiver();
    const hook = await createWebhook(key, { url: receiver.url, events: ['email.sent'] });
    const rotated = await api.rest('POST', `/v1/webhooks/${hook.id}/rotate-secret`, key, { expire_previous_in: '2s' });
    expect(rotated.status).toBe(200);
    const fresh = rotated.json.signing_secret as string;
    expect(fresh).not.toBe(hook.signing_secret);
    await settle(600);

    await produce('email.sent', { workspace, data: { n: 1 } });
    const [during] = await receiver.waitFor(1);
    const header = String(during!.headers['x-humiris-signature']);
    expect(header.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(2);
    expect(customerVerifies(header, during!.body, fresh)).toBe(true);
    expect(customerVerifies(header, during!.body, hook.signing_secret)).toBe(true);

    await settle(2_500);
    await produce('email.sent', { workspace, data: { n: 2 } });
    const after = (await receiver.waitFor(2))[1]!;
    const afterHeader = String(after.headers['x-humiris-signature']);
    expect(afterHeader.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(1);
    expect(customerVerifies(afterHeader, after.body, fresh)).toBe(true);
    expect(customerVerifies(afterHeader, after.body, hook.signing_secret)).toBe(false);
  });

  it('sends a test event and publishes events through the API', async () => {
    const key = await api.newKey();
    const receiver = await startReceiver();
    const hook = await createWebhook(key, { url: receiver.url, events: ['sms.received'] });
    const test = await api.rest('POST', `/v1/webhooks/${hook.id}/test`, key);
    expect(test.status).toBe(200);
    expect(test.json).toMatchObject({ event_type: 'webhook.test', webhook_id: hook.id, status: 'pending' });
    const [first] = await receiver.waitFor(1);
    expect(first!.json.type).toBe('webhook.test');
    expect(first!.headers['x-humiris-delivery']).toBe(test.json.id);

    await settle(600);
    const published = await api.rest('POST', '/v1/events', key, { type: 'sms.received', agent: 'bot-9', data: { text: 'hello' } });
    expect(published.status).toBe(200);
    const second = (await receiver.waitFor(2))[1]!;
    expect(second.json).toMatchObject({ id: published.json.id, type: 'sms.received', agent: 'bot-9', data: { text: 'hello' } });
  });
});
