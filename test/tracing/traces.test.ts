import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { startOtlpReceiver, type ExportedSpan } from '../helpers/otlp-receiver.js';
import { startReceiver, type ReceivedRequest } from '../helpers/receiver.js';
import { useKafka } from '../helpers/servers.js';
import { settle, until } from '../helpers/wait.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function traceparentOf(request: ReceivedRequest) {
  const header = String(request.headers.traceparent);
  const match = TRACEPARENT.exec(header);
  expect(match, `traceparent "${header}"`).not.toBeNull();
  return { traceId: match![1]!, parentId: match![2]!, flags: match![3]! };
}

const randomHex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
const newTraceparent = () => ({ traceId: randomHex(16), spanId: randomHex(8) });

const otlp = await startOtlpReceiver();
const api = await startTestApi('traces', { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, WEBHOOKS_RETRY_SCHEDULE: '1s,1s', WEBHOOKS_REQUEST_TIMEOUT: '2s' }, [...ALL_ROLES]);
const untraced = await startTestApi('traces-off', { WEBHOOKS_RETRY_SCHEDULE: '1s,1s' }, [...ALL_ROLES]);
const kafka = await useKafka('traces-clients');
const producer = await kafka.producer();

async function webhookTo(service: TestApi, url: string) {
  const key = await service.newKey();
  const workspace = (await service.keys.verify(key))!.workspace;
  const res = await service.rest('POST', '/v1/webhooks', key, { url, events: ['*'] });
  expect(res.status).toBe(201);
  await settle(600); // subscription changes apply within 1 s
  return { key, workspace };
}

async function produce(service: TestApi, workspace: string, headers: Record<string, string>) {
  await producer.send({
    topic: `${service.config.topicPrefix}.events.email.received`,
    messages: [{ key: workspace, value: JSON.stringify({ workspace, agent: null, data: { n: 1 } }), headers }],
  });
}

/** The exported spans of a trace, once those named have all arrived. */
function spansOf(traceId: string, names: Record<string, number>) {
  return until(`spans ${JSON.stringify(names)} of trace ${traceId}`, () => {
    const inTrace = otlp.spans.filter((s) => s.traceId === traceId);
    const complete = Object.entries(names).every(([name, count]) => inTrace.filter((s) => s.name === name).length >= count);
    return complete ? inTrace : undefined;
  }, 30_000);
}

/** The spans of one trace hang together: match under the producer's span, each send under the match. */
function expectDeliveryTrace(spans: ExportedSpan[], producerSpanId: string, receivedParentIds: string[]) {
  const match = spans.find((s) => s.name === 'match')!;
  expect(match.parentSpanId).toBe(producerSpanId);
  expect(match.serviceName).toBe('humiris-webhooks');
  const sends = spans.filter((s) => s.name === 'send');
  for (const send of sends) {
    expect(send.parentSpanId).toBe(match.spanId);
    expect(send.kind).toBe(3); // client
    expect(send.attributes['http.request.method']).toBe('POST');
    expect(send.attributes['server.address']).toBe('127.0.0.1');
    expect(send.attributes['humiris.delivery_id']).toMatch(/^dlv_/);
  }
  // Each receiver's parent is the span of the send that reached it.
  expect(sends.map((s) => s.spanId).sort()).toEqual([...receivedParentIds].sort());
  expect(spans.some((s) => s.name === 'store.insert_deliveries' && s.parentSpanId === match.spanId)).toBe(true);
  expect(spans.some((s) => s.name === 'store.record_outcome')).toBe(true);
  return { match, sends };
}

describe('traces', () => {
  it('continues the traceparent of a Kafka event to the receiver, a child of the exported send span', async () => {
    const receiver = await startReceiver();
    const { workspace } = await webhookTo(api, receiver.url);
    const parent = newTraceparent();
    await produce(api, workspace, { traceparent: `00-${parent.traceId}-${parent.spanId}-01`, tracestate: 'vendor=abc' });

    const [request] = await receiver.waitFor(1);
    const received = traceparentOf(request!);
    expect(received.traceId).toBe(parent.traceId);
    expect(received.parentId).not.toBe(parent.spanId);
    expect(received.flags).toBe('01');
    expect(request!.headers.tracestate).toBe('vendor=abc');

    const spans = await spansOf(parent.traceId, { match: 1, send: 1, 'store.record_outcome': 1 });
    const { sends } = expectDeliveryTrace(spans, parent.spanId, [received.parentId]);
    expect(sends[0]!.attributes['http.response.status_code']).toBe(200);
    expect(sends[0]!.attributes['humiris.attempt']).toBe(1);
    // Nothing of the URL beyond its host and port, nor any header, goes into a span.
    const exported = JSON.stringify(spans);
    expect(exported).not.toContain(receiver.url);
    expect(exported).not.toContain('whsec_');
    expect(otlp.paths[0]).toMatch(/^POST \/v1\/traces application\/json/);
  });

  it('continues the traceparent of a REST PublishEvent request', async () => {
    const receiver = await startReceiver();
    const { key } = await webhookTo(api, receiver.url);
    const parent = newTraceparent();
    const res = await fetch(`${api.baseUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', traceparent: `00-${parent.traceId}-${parent.spanId}-01` },
      body: JSON.stringify({ type: 'email.received', data: { n: 2 } }),
    });
    expect(res.status).toBe(200);

    const [request] = await receiver.waitFor(1);
    const received = traceparentOf(request!);
    expect(received.traceId).toBe(parent.traceId);
    expect(received.parentId).not.toBe(parent.spanId);
    const spans = await spansOf(parent.traceId, { match: 1, send: 1 });
    expectDeliveryTrace(spans, parent.spanId, [received.parentId]);
  });

  it('continues the traceparent of a gRPC PublishEvent call (request metadata)', async () => {
    const receiver = await startReceiver();
    const { key } = await webhookTo(api, receiver.url);
    const parent = newTraceparent();
    await api.events('grpc-h2', key).publishEvent(
      { event: { type: 'email.received', data: { n: 3 } } },
      { headers: { traceparent: `00-${parent.traceId}-${parent.spanId}-01`, tracestate: 'vendor=grpc' } },
    );

    const [request] = await receiver.waitFor(1);
    const received = traceparentOf(request!);
    expect(received.traceId).toBe(parent.traceId);
    expect(request!.headers.tracestate).toBe('vendor=grpc');
    const spans = await spansOf(parent.traceId, { match: 1, send: 1 });
    expectDeliveryTrace(spans, parent.spanId, [received.parentId]);
  });

  it('keeps the trace on a retried delivery, each attempt a send span of its own', async () => {
    const receiver = await startReceiver((_, index) => (index === 0 ? { status: 503 } : { status: 200 }));
    const { workspace } = await webhookTo(api, receiver.url);
    const parent = newTraceparent();
    await produce(api, workspace, { traceparent: `00-${parent.traceId}-${parent.spanId}-01` });

    const requests = await receiver.waitFor(2);
    const [first, second] = requests.map(traceparentOf);
    expect(requests[1]!.headers['x-humiris-attempt']).toBe('2');
    expect(first!.traceId).toBe(parent.traceId);
    expect(second!.traceId).toBe(parent.traceId);
    expect(second!.parentId).not.toBe(first!.parentId);

    const spans = await spansOf(parent.traceId, { match: 1, send: 2 });
    const { sends } = expectDeliveryTrace(spans, parent.spanId, [first!.parentId, second!.parentId]);
    const byAttempt = new Map(sends.map((s) => [s.attributes['humiris.attempt'], s]));
    expect(byAttempt.get(1)!.attributes['http.response.status_code']).toBe(503);
    expect(byAttempt.get(1)!.status.code).toBe(2); // error
    expect(byAttempt.get(2)!.attributes['http.response.status_code']).toBe(200);
    expect(byAttempt.get(2)!.spanId).toBe(second!.parentId);
  });

  it('starts a trace for an event that comes without one', async () => {
    const receiver = await startReceiver();
    const { workspace } = await webhookTo(api, receiver.url);
    await produce(api, workspace, {});
    const [request] = await receiver.waitFor(1);
    const received = traceparentOf(request!);
    const spans = await spansOf(received.traceId, { match: 1, send: 1 });
    expect(spans.find((s) => s.name === 'match')!.parentSpanId).toBe('');
    expect(spans.find((s) => s.name === 'send')!.spanId).toBe(received.parentId);
  });

  it('sends receivers a valid traceparent when no OTLP endpoint is set, in the trace the event came with', async () => {
    const exportedBefore = otlp.spans.length;
    const receiver = await startReceiver();
    const { workspace } = await webhookTo(untraced, receiver.url);
    const parent = newTraceparent();
    await produce(untraced, workspace, { traceparent: `00-${parent.traceId}-${parent.spanId}-01` });
    await produce(untraced, workspace, {});

    const requests = await receiver.waitFor(2);
    const received = requests.map(traceparentOf);
    const continued = received.find((r) => r.traceId === parent.traceId);
    expect(continued, JSON.stringify(received)).toBeDefined();
    expect(continued!.parentId).not.toBe(parent.spanId);
    expect(continued!.flags).toBe('01');
    const started = received.find((r) => r.traceId !== parent.traceId)!;
    expect(started.traceId).not.toMatch(/^0+$/);
    expect(started.parentId).not.toMatch(/^0+$/);
    // That service exported nothing: every span the collector has is from the traced one.
    expect(otlp.spans.slice(exportedBefore).some((s) => s.traceId === parent.traceId || s.traceId === started.traceId)).toBe(false);
  });
});
