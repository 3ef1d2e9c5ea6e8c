import { describe, expect, it } from 'vitest';
import { waitForLeaders } from '../../src/bus/topic-setup.js';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { customerVerifies, startReceiver } from '../helpers/receiver.js';
import { useKafka } from '../helpers/servers.js';
import { settle, until } from '../helpers/wait.js';

// Every accepted event reaches every matching webhook exactly as produced, or is quarantined with
// its reason: large fan-outs, re-created topics, reused ids and numbers JSON cannot hold as doubles.
const api = await startTestApi('integrity', { WEBHOOKS_RETRY_SCHEDULE: '1s,1s,1s,1s,1s', WEBHOOKS_REQUEST_TIMEOUT: '2s' }, [...ALL_ROLES]);
const kafka = await useKafka('integrity-clients');
const producer = await kafka.producer();
const prefix = api.config.topicPrefix;

async function newWorkspace() {
  const key = await api.newKey();
  return { key, workspace: (await api.keys.verify(key))!.workspace };
}

async function createWebhooks(key: string, url: string, events: string[], count: number, agent: string | null = null) {
  const hooks: Array<{ id: string; signing_secret: string }> = [];
  for (let i = 0; i < count; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, count - i) }, async () => {
        const res = await api.rest('POST', '/v1/webhooks', key, { url, events, agent });
        expect(res.status).toBe(201);
        return res.json as { id: string; signing_secret: string };
      }),
    );
    hooks.push(...batch);
  }
  await settle(700); // subscription changes apply within 1 s
  return hooks;
}

async function quarantineReader() {
  const consumer = await kafka.consumer();
  await consumer.subscribe({ topic: `${prefix}.webhooks.invalid-events`, fromBeginning: true });
  const records: Array<{ value: string; reason: string }> = [];
  await consumer.run({
    eachMessage: async ({ message }) => void records.push({ value: String(message.value), reason: String(message.headers?.['x-humiris-error']) }),
  });
  return records;
}
const quarantined = await quarantineReader();


describe('event integrity', () => {
  it('delivers a 20 KB event to 1,000 webhooks, and a 1 MiB event to several', async () => {
    const { key, workspace } = await newWorkspace();
    const receiver = await startReceiver();
    const hooks = await createWebhooks(key, receiver.url, ['email.received'], 1_000);
    const bigHooks = await createWebhooks(key, receiver.url, ['email.sent'], 8);

    const text = 'x'.repeat(20_000);
    await producer.send({ topic: `${prefix}.events.email.received`, messages: [{ value: JSON.stringify({ id: 'evt_wide', workspace, data: { text } }) }] });
    const huge = 'y'.repeat(1024 * 1024 - 200);
    await producer.send({ topic: `${prefix}.events.email.sent`, messages: [{ value: JSON.stringify({ id: 'evt_huge', workspace, data: { huge } }) }] });

    // Every (event, webhook) pair once at least: on a busy machine a send can pass the 2 s timeout
    // and arrive again as its retry, so count distinct webhooks, not requests.
    const reached = (eventId: string) => new Set(receiver.requests.filter((r) => r.json?.id === eventId).map((r) => r.headers['x-humiris-webhook']));
    await until('every webhook to get its event', () => (reached('evt_wide').size === 1_000 && reached('evt_huge').size === 8 ? true : undefined), 120_000);
    const wide = receiver.requests.filter((r) => r.json?.id === 'evt_wide');
    expect(new Set(wide.map((r) => r.headers['x-humiris-webhook']))).toEqual(new Set(hooks.map((h) => h.id)));
    expect(wide.every((r) => r.json.data.text === text)).toBe(true);
    const secretOf = new Map([...hooks, ...bigHooks].map((h) => [h.id, h.signing_secret]));
    for (const r of receiver.requests) {
      expect(customerVerifies(String(r.headers['x-humiris-signature']), r.body, secretOf.get(String(r.headers['x-humiris-webhook']))!)).toBe(true);
    }
    const big = receiver.requests.filter((r) => r.json?.id === 'evt_huge');
    expect(reached('evt_huge')).toEqual(new Set(bigHooks.map((h) => h.id)));
    expect(big.every((r) => r.json.data.huge === huge)).toBe(true);
  }, 240_000);

  it('keeps the numbers of data exactly as produced', async () => {
    const { key, workspace } = await newWorkspace();
    const receiver = await startReceiver();
    await createWebhooks(key, receiver.url, ['card.capture'], 1);
    const raw = `{"id":"evt_numbers","workspace":"${workspace}","data":{"a":9007199254740993,"b":12345678901234567890,"c":1e400,"d":[1.0,-0,0.1,2.50]}}`;
    await producer.send({ topic: `${prefix}.events.card.capture`, messages: [{ value: raw }] });
    const [request] = await receiver.waitFor(1);
    expect(request!.body).toContain('"data":{"a":9007199254740993,"b":12345678901234567890,"c":1e400,"d":[1.0,-0,0.1,2.50]}');
  });

  it('keeps keys that name object internals (__proto__, constructor) and any string, through Kafka, REST and gRPC', async () => {
    const { key, workspace } = await newWorkspace();
    const receiver = await startReceiver();
    await createWebhooks(key, receiver.url, ['card.capture', 'card.refund', 'card.decline'], 1);
    const data = (s: string) => `{"__proto__":{"polluted":1},"constructor":{"prototype":2},"toString":"x","nested":[{"__proto__":[3]}],"s":"${s}"}`;
    // JSON carries a lone surrogate; Protobuf strings are UTF-8, which cannot.
    const json = data('\\ud800 \\u2028 \\u0000 é 𝄞');
    const utf8 = data('\\u2028 \\u0000 é 𝄞');
    await producer.send({ topic: `${prefix}.events.card.capture`, messages: [{ value: `{"id":"evt_internals","workspace":"${workspace}","data":${json}}` }] });
    const viaRest = await api.rest('POST', '/v1/events', key, `{"type":"card.refund","data":${json}}`);
    expect(viaRest.status, JSON.stringify(viaRest.json)).toBe(200);
    await api.events('grpc-h2', key).publishEvent({ event: { type: 'card.decline', data: JSON.parse(utf8) } });
    const requests = await receiver.waitFor(3);
    expect(requests.map((r) => r.json.type).sort()).toEqual(['card.capture', 'card.decline', 'card.refund']);
    for (const request of requests) {
      const got = JSON.parse(request.body).data;
      const expected = JSON.parse(request.json.type === 'card.decline' ? utf8 : json);
      expect(Object.keys(got), request.json.type).toEqual(Object.keys(expected));
      expect(Object.getOwnPropertyNames(got.__proto__), request.json.type).toEqual(['polluted']);
      expect(got.__proto__.polluted).toBe(1);
      expect(got.constructor).toEqual({ prototype: 2 });
      expect(Object.getOwnPropertyNames(got.nested[0])).toEqual(['__proto__']);
      expect(got.s, request.json.type).toBe(expected.s);
    }
  });

  it('refuses through the API a number the API cannot carry exactly, and sends exact ones as written', async () => {
    const { key } = await newWorkspace();
    const receiver = await startReceiver();
    await createWebhooks(key, receiver.url, ['card.refund'], 1);
    for (const [text, path] of [['9007199254740993', 'data.a'], ['12345678901234567890', 'data.a'], ['1e400', 'data.a']]) {
      const res = await api.rest('POST', '/v1/events', key, `{"type":"card.refund","data":{"a":${text}}}`);
      expect(res.status, text).toBe(400);
      expect(res.json.error).toMatchObject({ code: 'invalid_argument', field: path, message: expect.stringContaining(`the number ${text} cannot be carried exactly`) });
    }
    const accepted = await api.rest('POST', '/v1/events', key, '{"type":"card.refund","data":{"a":9007199254740992,"b":0.1}}');
    expect(accepted.status).toBe(200);
    const [request] = await receiver.waitFor(1);
    expect(request!.body).toContain('"data":{"a":9007199254740992,"b":0.1}');
    expect(receiver.requests).toHaveLength(1);
  });

  it('delivers id-less events again after their topic is deleted and re-created', async () => {
    const { key, workspace } = await newWorkspace();
    const receiver = await startReceiver();
    await createWebhooks(key, receiver.url, ['call.started'], 1);
    const topic = `${prefix}.events.call.started`;
    // Partition 0 both times: the new records get exactly the offsets the old ones had.
    const round = (n: number) => [1, 2, 3].map((i) => ({ partition: 0, value: JSON.stringify({ workspace, data: { round: n, i } }) }));
    await producer.send({ topic, messages: round(1) });
    await receiver.waitFor(3);

    await kafka.admin.deleteTopics({ topics: [topic] });
    // Gone, or already created again (empty) by a client's metadata request within one look.
    const gone = async () => {
      if (!(await kafka.admin.listTopics()).includes(topic)) return true;
      const offsets = await kafka.admin.fetchTopicOffsets(topic).catch(() => []);
      return offsets.length > 0 && offsets.every((o) => o.high === '0') ? true : undefined;
    };
    await until('the topic to go', gone);
    // The matcher's consumer may create it again first (Kafka's auto-creation), and a new topic is
    // briefly unknown to the broker: wait for its leaders, whoever created it.
    await kafka.admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: false }).catch(() => false);
    await waitForLeaders(kafka.admin, [topic]);
    // The matcher's position is past the new, empty log: its next fetch starts it again at 0.
    await settle(5_000);
    await producer.send({ topic, messages: round(2) });
    await until('the three events of the new topic', () => (receiver.requests.filter((r) => r.json.data.round === 2).length === 3 ? true : undefined), 90_000);
    const ids = receiver.requests.map((r) => r.json.id);
    expect(new Set(ids).size).toBe(ids.length);
  }, 120_000);

  it('quarantines a second event with the same id but another type, agent or body, and never crosses bodies', async () => {
    const { key, workspace } = await newWorkspace();
    const emails = await startReceiver();
    const cards = await startReceiver();
    const [emailHook] = await createWebhooks(key, emails.url, ['email.received'], 1, 'agent-one');
    const [cardHook] = await createWebhooks(key, cards.url, ['card.authorization'], 1, 'agent-two');
    const secret = { subject: 'for agent one only' };
    await producer.send({
      topic: `${prefix}.events.email.received`,
      messages: [{ value: JSON.stringify({ id: 'evt_shared', workspace, agent: 'agent-one', data: secret }) }],
    });
    await emails.waitFor(1);
    await producer.send({
      topic: `${prefix}.events.card.authorization`,
      messages: [{ value: JSON.stringify({ id: 'evt_shared', workspace, agent: 'agent-two', data: { amount: 5 } }) }],
    });
    const record = await until('the quarantine record', () => quarantined.find((q) => q.value.includes('"agent-two"') && q.value.includes('evt_shared')));
    expect(record.reason).toMatch(/evt_shared.*already/);
    await settle(1_500);
    expect(cards.requests).toHaveLength(0);
    const list = await api.rest('GET', `/v1/webhooks/${cardHook!.id}/deliveries`, key);
    expect(list.json.data).toEqual([]);

    // The same event again (a producer's resend) is a duplicate, not a conflict: no new delivery.
    // The one delivery may arrive twice on a busy machine (an answer past the 2 s timeout, or a
    // task read again after the new card topic moved the consumer group), under its own id.
    const [first] = emails.requests;
    await producer.send({
      topic: `${prefix}.events.email.received`,
      messages: [{ value: JSON.stringify({ id: 'evt_shared', workspace, agent: 'agent-one', data: secret }) }],
    });
    await settle(2_000);
    const seen = emails.requests.map((r) => ({ at: r.at, delivery: r.headers['x-humiris-delivery'], attempt: r.headers['x-humiris-attempt'] }));
    expect(new Set(seen.map((r) => r.delivery)), JSON.stringify(seen)).toEqual(new Set([first!.headers['x-humiris-delivery']]));
    expect(emails.requests.every((r) => r.body === first!.body)).toBe(true);
    const emailDeliveries = await api.rest('GET', `/v1/webhooks/${emailHook!.id}/deliveries`, key);
    expect(emailDeliveries.json.data).toHaveLength(1);
    expect(quarantined.filter((q) => q.value.includes('evt_shared'))).toHaveLength(1);
  });
});
