import { describe, expect, it } from 'vitest';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { startTestService } from '../helpers/service.js';
import { useKafka } from '../helpers/servers.js';
import { settle } from '../helpers/wait.js';

// A record Kafka will never take ends in a visible, recorded failure, and the events around it
// are still delivered: no endless retry that holds up the rest.
const kafka = await useKafka('refused');
// Created before the service starts (which leaves existing topics as they are), with room for small tasks only.
await kafka.createTopics([
  { topic: `${kafka.prefix}.webhooks.deliveries`, numPartitions: 2, configEntries: [{ name: 'max.message.bytes', value: '4096' }] },
]);
// The dispatcher in a process of its own: a process running both sends the tasks of its own
// partitions in hand, and those never meet the deliveries topic's limit.
const api = await startTestApi('refused', { WEBHOOKS_TOPIC_PREFIX: kafka.prefix }, ['api', 'matcher']);
await startTestService('refused-dispatch', { WEBHOOKS_TOPIC_PREFIX: kafka.prefix, MONGODB_DATABASE: api.config.mongodbDatabase }, ['dispatcher', 'retry']);
const producer = await kafka.producer();

describe('a task Kafka refuses for good', () => {
  it('fails its delivery with the reason, quarantines its event, and delivers the others', async () => {
    const key = await api.newKey();
    const workspace = (await api.keys.verify(key))!.workspace;
    const receiver = await startReceiver();
    const hook = (await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events: ['email.received'] })).json as { id: string };
    const invalid = await kafka.consumer();
    await invalid.subscribe({ topic: `${kafka.prefix}.webhooks.invalid-events`, fromBeginning: true });
    const quarantined: Array<{ value: string; reason: string }> = [];
    await invalid.run({ eachMessage: async ({ message }) => void quarantined.push({ value: String(message.value), reason: String(message.headers?.['x-humiris-error']) }) });
    await settle(700);

    await producer.send({
      topic: `${kafka.prefix}.events.email.received`,
      messages: [
        { value: JSON.stringify({ id: 'evt_small_1', workspace, data: { n: 1 } }) },
        { value: JSON.stringify({ id: 'evt_too_big', workspace, data: { text: 'x'.repeat(6_000) } }) },
        { value: JSON.stringify({ id: 'evt_small_2', workspace, data: { n: 2 } }) },
      ],
    });
    await receiver.waitFor(2);
    const deadline = Date.now() + 20_000;
    while (quarantined.length === 0 && Date.now() < deadline) await settle(200);

    expect(receiver.requests.map((r) => r.json.id).sort()).toEqual(['evt_small_1', 'evt_small_2']);
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]!.value).toContain('evt_too_big');
    expect(quarantined[0]!.reason).toMatch(/could not be queued.*MESSAGE_TOO_LARGE/);
    const list = await api.rest('GET', `/v1/webhooks/${hook.id}/deliveries?status=failed`, key);
    expect(list.json.data).toHaveLength(1);
    expect(list.json.data[0]).toMatchObject({ event_id: 'evt_too_big', status: 'failed', last_error: expect.stringContaining('could not be queued') });
  });
});
