import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { useKafka } from '../helpers/servers.js';
import { settle } from '../helpers/wait.js';

// test/pipeline/delivery.test.ts covers not JSON, data not an object, a type/topic mismatch and
// protobuf garbage; these are the rest of the list, each followed by a valid event.
const api = await startTestApi('bad-events', {}, [...ALL_ROLES]);
const kafka = await useKafka('bad-events-clients');
const producer = await kafka.producer();

describe('bad events are quarantined with a reason, and the next valid event is still delivered', () => {
  it('JSON not an object, missing workspace, unknown type, 1 MiB+, invalid UTF-8, 10,000 levels deep', async () => {
    const key = await api.newKey();
    const workspace = (await api.keys.verify(key))!.workspace;
    const receiver = await startReceiver();
    const created = await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events: ['wallet.transfer.out'] });
    expect(created.status).toBe(201);
    const invalid = await kafka.consumer();
    await invalid.subscribe({ topic: `${api.config.topicPrefix}.webhooks.invalid-events`, fromBeginning: true });
    const quarantined: any[] = [];
    await invalid.run({ eachMessage: async ({ message }) => void quarantined.push(message) });
    await settle(600);

    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const bad: Array<[string, Buffer | string, RegExp]> = [
      ['array', '[1, 2, 3]', /must be a JSON object/],
      ['number', '42', /must be a JSON object/],
      ['string', '"hello"', /must be a JSON object/],
      ['null', 'null', /must be a JSON object/],
      ['no workspace', JSON.stringify({ data: {} }), /workspace is missing/],
      ['unknown type', JSON.stringify({ type: 'wallet.transfer.sideways', workspace, data: {} }), /unknown event type/],
      ['1 MiB+', JSON.stringify({ workspace, data: { blob: 'x'.repeat(1024 * 1024 + 10) } }), /over the 1 MiB limit/],
      ['invalid UTF-8', Buffer.concat([Buffer.from(`{"workspace":"${workspace}","data":{"t":"`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}')]), /not valid UTF-8/],
      ['10,000 levels', `{"workspace":"${workspace}","data":${deep}}`, /nested deeper/],
      ['empty', '', /empty value/],
    ];
    const topic = `${api.config.topicPrefix}.events.wallet.transfer.out`;
    const messages = bad.flatMap(([label, value], i) => [
      { key: 'same-partition', value },
      { key: 'same-partition', value: JSON.stringify({ id: `evt_after_${i}`, workspace, data: { after: label } }) },
    ]);
    for (const message of messages) await producer.send({ topic, messages: [message] });

    const received = await receiver.waitFor(bad.length, 30_000);
    expect(received.map((r) => r.json.id).sort()).toEqual(bad.map((_, i) => `evt_after_${i}`).sort());
    const deadline = Date.now() + 15_000;
    while (quarantined.length < bad.length && Date.now() < deadline) await settle(100);
    expect(quarantined).toHaveLength(bad.length);
    for (const [label, value, reason] of bad) {
      const record = quarantined.find((m) => Buffer.compare(m.value ?? Buffer.alloc(0), Buffer.from(value)) === 0);
      // Found by its bytes: the original value is kept as it came, for an operator to inspect.
      expect(record, label).toBeDefined();
      expect(String(record.headers['x-humiris-error']), label).toMatch(reason);
      expect(String(record.headers['x-humiris-original-topic']), label).toBe(topic);
    }
    // No delivery was created for any of them.
    const list = await api.rest('GET', `/v1/webhooks/${created.json.id}/deliveries?limit=100`, key);
    expect(list.json.data).toHaveLength(bad.length);
  });
});
