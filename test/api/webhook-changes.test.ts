import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { startTestService } from '../helpers/service.js';
import { startReceiver } from '../helpers/receiver.js';
import { settle } from '../helpers/wait.js';

// One instance with every role, as the service runs by default: it answered the change, so the
// events it accepts after the answer are matched against the webhooks as changed.
const api = await startTestApi('webhook-changes', {}, [...ALL_ROLES]);

type Api = Awaited<ReturnType<typeof startTestApi>>;

/** A workspace with one webhook that already received an event: the matcher has just checked its webhooks. */
async function matchedJustNow(on: Api = api, settleMs = 600) {
  const key = await on.newKey();
  const first = await startReceiver();
  expect((await on.rest('POST', '/v1/webhooks', key, { url: first.url, events: ['*'] })).status).toBe(201);
  await settle(settleMs);
  expect((await on.rest('POST', '/v1/events', key, { type: 'sms.sent', data: { n: 0 } })).status).toBe(200);
  await first.waitFor(1);
  return { key, first };
}

/** Creates a webhook, publishes at once, and expects the event at the new webhook. */
async function expectCreatedThenPublishedArrives(on: Api, key: string) {
  const second = await startReceiver();
  expect((await on.rest('POST', '/v1/webhooks', key, { url: second.url, events: ['*'] })).status).toBe(201);
  const published = await on.rest('POST', '/v1/events', key, { type: 'sms.sent', data: { n: 1 } });
  expect(published.status).toBe(200);
  const [got] = await second.waitFor(1, 10_000);
  expect(got!.json).toMatchObject({ id: published.json.id, data: { n: 1 } });
}

describe('webhook changes on the instance that answered them', () => {
  it('an event published right after a create goes to the new webhook', async () => {
    const { key, first } = await matchedJustNow();
    await expectCreatedThenPublishedArrives(api, key);
    await first.waitFor(2);
  });

  it('an event published right after a webhook is disabled is not sent to it', async () => {
    const key = await api.newKey();
    const [first, other] = [await startReceiver(), await startReceiver()];
    const created = await api.rest('POST', '/v1/webhooks', key, { url: first.url, events: ['*'] });
    expect((await api.rest('POST', '/v1/webhooks', key, { url: other.url, events: ['*'] })).status).toBe(201);
    await settle(600);
    expect((await api.rest('POST', '/v1/events', key, { type: 'sms.sent', data: { n: 0 } })).status).toBe(200);
    await Promise.all([first.waitFor(1), other.waitFor(1)]);
    expect((await api.rest('PATCH', `/v1/webhooks/${created.json.id}`, key, { status: 'disabled' })).status).toBe(200);
    expect((await api.rest('POST', '/v1/events', key, { type: 'sms.sent', data: { n: 1 } })).status).toBe(200);
    // The other webhook's receipt shows the event was matched and sent.
    await other.waitFor(2, 10_000);
    await settle(1_000);
    expect(first.requests.map((r) => r.json.data.n)).toEqual([0]);
  });
});

describe('webhook changes with matching in another process', () => {
  it('an event published right after a create, through the process that answered it, goes to the new webhook', async () => {
    // The API alone here, and the pipeline as another service on the same topics and database,
    // as `serve --roles api` and `serve --roles matcher,dispatcher,retry` run.
    const front = await startTestApi('webhook-changes-api', {}, ['api']);
    await startTestService('webhook-changes-pipeline', { WEBHOOKS_TOPIC_PREFIX: front.config.topicPrefix, MONGODB_DATABASE: front.config.mongodbDatabase }, [
      'matcher',
      'dispatcher',
      'retry',
    ]);
    // The pipeline sees the first webhook within 1 s of its create, through the change mark.
    const { key } = await matchedJustNow(front, 1_500);
    await expectCreatedThenPublishedArrives(front, key);
  });
});
