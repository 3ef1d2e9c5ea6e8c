import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { grpcCall, grpcJsClient, startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { settle } from '../helpers/wait.js';

const api = await startTestApi('publish-events', {}, [...ALL_ROLES]);

/** A key of a fresh workspace and a receiver subscribed to every event of it. */
async function subscribed() {
  const key = await api.newKey();
  const receiver = await startReceiver();
  const created = await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events: ['*'] });
  expect(created.status).toBe(201);
  await settle(600);
  return { key, receiver };
}

/** Valid at 0, 2 and 5; each other one names what to fix. */
const MIXED = [
  { type: 'sms.received', agent: 'bot-1', data: { n: 0 } },
  { type: 'nope', data: { n: 1 } },
  { type: 'email.sent', data: { n: 2 } },
  { type: 'sms.received', agent: 'Not A Slug', data: { n: 3 } },
  { data: { n: 4 } },
  { type: 'card.refund', data: { n: 5 } },
];

function expectMixedErrors(errors: Array<{ code: string; field: string; message: string; retryable: boolean } | undefined>) {
  expect(errors[1]).toMatchObject({ code: 'invalid_argument', field: 'events[1].type', message: expect.stringMatching(/unknown event type "nope"/), retryable: false });
  expect(errors[3]).toMatchObject({ code: 'invalid_argument', field: 'events[3].agent' });
  expect(errors[4]).toMatchObject({ code: 'invalid_argument', field: 'events[4].type', message: expect.stringMatching(/type is missing/) });
}

async function expectDelivered(receiver: Awaited<ReturnType<typeof startReceiver>>, expected: Array<{ id: string; n: number }>) {
  await receiver.waitFor(expected.length);
  await settle(500);
  const got = receiver.requests.map((r) => ({ id: r.json.id as string, n: r.json.data.n as number })).sort((a, b) => a.n - b.n);
  expect(got).toEqual(expected);
}

describe('PublishEvents', () => {
  it('REST POST /v1/events:batch answers per event, in order, and delivers the accepted ones', async () => {
    const { key, receiver } = await subscribed();
    // A number JSON cannot carry exactly refuses its own event only.
    const body = JSON.stringify({ events: MIXED }).replace('"data":{"n":5}', '"data":{"n":5,"big":9007199254740993}');
    const res = await api.rest('POST', '/v1/events:batch', key, body);
    expect(res.status).toBe(200);
    const results = res.json.results as Array<{ id?: string; error?: any }>;
    expect(results).toHaveLength(MIXED.length);
    expect(results.map((r) => (r.id ? 'id' : 'error'))).toEqual(['id', 'error', 'id', 'error', 'error', 'error']);
    expectMixedErrors(results.map((r) => r.error));
    expect(results[5]!.error).toMatchObject({ code: 'invalid_argument', field: 'events[5].data.big', message: expect.stringMatching(/9007199254740993 cannot be carried exactly/) });
    for (const i of [0, 2]) expect(results[i]!.id).toMatch(/^evt_/);
    await expectDelivered(receiver, [
      { id: results[0]!.id!, n: 0 },
      { id: results[2]!.id!, n: 2 },
    ]);
    expect(receiver.requests.find((r) => r.json.data.n === 0)!.json).toMatchObject({ type: 'sms.received', agent: 'bot-1' });
  });

  it('a plain @grpc/grpc-js client', async () => {
    const { key, receiver } = await subscribed();
    const client = grpcJsClient(api.baseUrl, 'EventService');
    const events = MIXED.map((e) => ({ ...e, data: { fields: { n: { numberValue: e.data.n } } } }));
    const reply = await grpcCall<any>(client, 'PublishEvents', { events }, key);
    const results = reply.results as Array<{ id?: string; error?: any }>;
    expect(results.map((r) => (r.error ? 'error' : 'id'))).toEqual(['id', 'error', 'id', 'error', 'error', 'id']);
    expectMixedErrors(results.map((r) => r.error ?? undefined));
    await expectDelivered(
      receiver,
      [0, 2, 5].map((n) => ({ id: results[n]!.id!, n })),
    );
  });

  it('refuses more than 1,000 events, and none, on every protocol', async () => {
    const key = await api.newKey();
    const tooMany = Array.from({ length: 1001 }, (_, n) => ({ type: 'email.sent', data: { n } }));
    const rest = await api.rest('POST', '/v1/events:batch', key, { events: tooMany });
    expect(rest.status).toBe(400);
    expect(rest.json.error).toMatchObject({ code: 'invalid_argument', field: 'events', message: expect.stringMatching(/1001 events; at most 1000/) });

    const connect = await api
      .events('connect-binary-h2', key)
      .publishEvents({ events: tooMany.map((e) => ({ type: e.type })) })
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(connect?.code).toBe(Code.InvalidArgument);
    expect(connect?.rawMessage).toMatch(/at most 1000/);

    const grpcError: any = await grpcCall(grpcJsClient(api.baseUrl, 'EventService'), 'PublishEvents', { events: [] }, key).catch((e) => e);
    expect(grpcError.code).toBe(3); // INVALID_ARGUMENT
    expect(grpcError.details).toMatch(/at least one event/);

    // Exactly 1,000 go through, each with its own id.
    const full = await api.rest('POST', '/v1/events:batch', key, { events: tooMany.slice(0, 1000) });
    expect(full.status).toBe(200);
    const ids = (full.json.results as Array<{ id: string }>).map((r) => r.id);
    expect(ids.every((id) => /^evt_/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(1000);
  });
});
