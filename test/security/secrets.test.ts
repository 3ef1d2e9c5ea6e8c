import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnService, stopService, type ServiceProcess } from '../../chaos/harness.js';
import { WebhookService } from '../../src/gen/humiris/webhooks/v1/webhook_service_pb.js';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { kafkaBrokers, mongodbUri, uniqueName } from '../helpers/servers.js';
import { startTestService } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

/*
 * API keys and signing secrets never reach a log line, an error message or a DLQ record. The
 * service runs as its own process (`node bin/humiris-webhooks.js serve` from dist, LOG_LEVEL=debug)
 * so everything it writes is captured, whoever wrote it; then every secret we know of is searched for.
 */

const name = uniqueName('secrets');
const client = await MongoClient.connect(mongodbUri());
const keys = new ApiKeyStore(client.db(name));
await keys.init();
const kafka = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });

let service: ServiceProcess | undefined;
afterAll(async () => {
  if (service) await stopService(service);
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(name));
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
  await client.db(name).dropDatabase().catch(() => {});
  await client.close();
});

/** Every key and secret seen, and every error body answered. */
const secrets = new Set<string>();
const errorBodies: string[] = [];

async function call(method: string, route: string, key: string | undefined, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${service!.baseUrl}${route}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400) errorBodies.push(`${res.status} ${method} ${route}: ${text} ${JSON.stringify([...res.headers])}`);
  for (const match of text.match(/whsec_[A-Za-z0-9_-]+/g) ?? []) secrets.add(match);
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}


describe('secrets never leak', () => {
  it('API keys and whsec_ secrets appear in no log line, error body or DLQ record', { timeout: 60_000 }, async () => {
    service = await spawnService('secrets', {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      MONGODB_URI: mongodbUri(),
      MONGODB_DATABASE: name,
      WEBHOOKS_TOPIC_PREFIX: name,
      WEBHOOKS_EVENT_PARTITIONS: '2',
      WEBHOOKS_RETRY_SCHEDULE: '1s',
      WEBHOOKS_REQUEST_TIMEOUT: '2s',
      LOG_LEVEL: 'debug',
    });
    const ok = await startReceiver();
    // A hostile receiver that echoes every request header back: the body excerpt is recorded.
    const failing = await startReceiver((request) => ({ status: 500, body: JSON.stringify(request.headers) }));

    const key = (await keys.create('secrets-a', 'main')).key;
    const other = (await keys.create('secrets-b', 'other')).key;
    const revoked = (await keys.create('secrets-a', 'old')).key;
    for (const k of [key, other, revoked]) secrets.add(k);
    await keys.revoke(revoked.slice(0, 16));

    // Management calls, each secret-bearing answer collected.
    const good = (await call('POST', '/v1/webhooks', key, { url: ok.url, events: ['*'], description: 'ok' })).json;
    const bad = (await call('POST', '/v1/webhooks', key, { url: failing.url, events: ['*'] })).json;
    const refused = (await call('POST', '/v1/webhooks', key, { url: 'http://127.0.0.1:9/nobody', events: ['email.sent'] })).json;
    expect(good.signing_secret).toMatch(/^whsec_/);
    const rotated = await call('POST', `/v1/webhooks/${good.id}/rotate-secret`, key, { expire_previous_in: '3600s' });
    expect(rotated.json.signing_secret).toMatch(/^whsec_/);
    expect(rotated.json.signing_secret).not.toBe(good.signing_secret);
    await call('POST', `/v1/webhooks/${bad.id}/rotate-secret`, key, {});
    expect((await call('GET', `/v1/webhooks/${good.id}/secret`, key)).json.signing_secret).toBe(rotated.json.signing_secret);
    expect(secrets.size).toBeGreaterThanOrEqual(3 + 5);
    expect((await call('GET', '/v1/webhooks', key)).status).toBe(200);
    expect((await call('GET', `/v1/webhooks/${good.id}`, key)).status).toBe(200);
    await call('PATCH', `/v1/webhooks/${good.id}`, key, { description: 'still ok' });

    // Deliveries: a test event each, and a published event to all three.
    for (const hook of [good, bad, refused]) expect((await call('POST', `/v1/webhooks/${hook.id}/test`, key, {})).status).toBe(200);
    expect((await call('POST', '/v1/events', key, { type: 'email.sent', data: { note: 'hello' } })).status).toBe(200);
    await ok.waitFor(2);
    const dead = await until('the failing deliveries to be dead', async () => {
      const list = (await call('GET', `/v1/webhooks/${bad.id}/deliveries?status=failed`, key)).json;
      return list.data.length >= 2 ? list.data : undefined;
    });
    await until('the refused deliveries to be dead', async () => {
      const list = (await call('GET', `/v1/webhooks/${refused.id}/deliveries?status=failed`, key)).json;
      return list.data.length >= 2 ? list.data : undefined;
    });
    const detail = (await call('GET', `/v1/webhooks/${bad.id}/deliveries/${dead[0].id}`, key)).json;
    expect(detail.attempts.length).toBe(2);
    expect(await call('POST', `/v1/webhooks/${bad.id}/deliveries/${dead[0].id}/retry`, key, {})).toMatchObject({ status: 200 });

    // Bad, foreign and revoked keys; mistakes of every kind.
    const unknown = `hum_sk_live_${'Q'.repeat(40)}`;
    for (const k of [revoked, unknown, key.slice(0, -1), `${key}x`, key.toUpperCase(), other]) {
      await call('GET', `/v1/webhooks/${good.id}`, k);
      await call('POST', `/v1/webhooks/${good.id}/rotate-secret`, k, {});
      await call('GET', `/v1/webhooks/${good.id}/secret`, k);
    }
    for (const authorization of [`Basic ${key}`, `Bearer ${key} ${key}`, `Bearer\t${revoked}`, key, `Bearer ${revoked}\r`]) {
      await call('GET', '/v1/webhooks', undefined, undefined, { authorization: authorization.replace(/\r/g, '') });
    }
    await call('POST', '/v1/webhooks', key, { url: `https://user:${good.signing_secret}@example.com/`, events: ['*'] });
    await call('POST', '/v1/webhooks', key, '{"url": broken');
    await call('PATCH', `/v1/webhooks/${good.id}`, key, { status: 'nope' });
    await call('GET', `/v1/webhooks/${good.id}/deliveries/dlv_${'0'.repeat(24)}`, key);
    await call('POST', '/v1/events', key, { type: 'nope', data: {} });
    await call('POST', `/v1/webhooks/${good.id}/rotate-secret`, key, { expire_previous_in: '-1s' });
    // The same over Connect, whose errors carry a message of their own.
    const connectErrors: string[] = [];
    for (const k of [revoked, unknown, other]) {
      const res = await fetch(`${service.baseUrl}/humiris.webhooks.v1.WebhookService/RotateWebhookSecret`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: good.id }),
      });
      connectErrors.push(`${res.status} ${await res.text()}`);
    }
    expect(connectErrors.every((e) => /^(401|404) /.test(e)), connectErrors.join('\n')).toBe(true);
    errorBodies.push(...connectErrors);

    // DLQ records of the dead deliveries.
    const consumer = kafka.consumer({ groupId: `${name}-dlq-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: `${name}.webhooks.dlq`, fromBeginning: true });
    const letters: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        letters.push(JSON.stringify({ headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])), key: message.key?.toString(), value: message.value?.toString() }));
      },
    });
    await until('4 DLQ records', async () => (letters.length >= 4 ? true : undefined));
    await consumer.disconnect();

    await stopService(service);
    const output = service.output();
    const lines = output.split('\n').filter(Boolean);

    // The log really was at debug level and saw the calls.
    expect(lines.length).toBeGreaterThan(20);
    expect(output).toContain('"level":20');
    expect(output).toContain('rpc refused');
    expect(errorBodies.length).toBeGreaterThan(20);

    const haystacks = { log: output, 'error bodies': errorBodies.join('\n'), dlq: letters.join('\n') };
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secrets) {
        // The key's random part alone counts too; the 16-character prefix is shown by design.
        const needle = secret.startsWith('hum_sk_') ? secret.slice(16) : secret.slice('whsec_'.length);
        expect(text.includes(needle), `${where} contains ${secret.slice(0, 16)}…`).toBe(false);
      }
      expect(text, where).not.toMatch(/whsec_[A-Za-z0-9_-]{8,}/);
      expect(text, where).not.toMatch(/hum_sk_(live|test)_[0-9A-Za-z]{8,}/);
    }
    // What was sent to the receivers is signed, never carries the secret itself.
    for (const request of [...ok.requests, ...failing.requests]) {
      const raw = JSON.stringify(request.headers) + request.body;
      expect(raw).not.toMatch(/whsec_/);
      expect(raw).not.toMatch(/hum_sk_/);
    }
  });
});

describe('revoked keys', () => {
  it('stop working on every instance sharing the database within 1 s', async () => {
    const first = await startTestApi('revoke-a');
    const second = await startTestService('revoke-b', { MONGODB_DATABASE: first.config.mongodbDatabase, WEBHOOKS_TOPIC_PREFIX: first.config.topicPrefix }, ['api']);
    const key = await first.newKey();
    const bases = [first.baseUrl, second.baseUrl];
    const status = (base: string) => fetch(`${base}/v1/webhooks`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);
    const connectCode = (base: string) =>
      fetch(`${base}/humiris.webhooks.v1.WebhookService/ListWebhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{}',
      }).then(async (r) => (r.status === 200 ? 'ok' : ((await r.json()) as { code: string }).code));
    for (const base of bases) {
      expect(await status(base)).toBe(200);
      expect(await connectCode(base)).toBe('ok');
    }
    const revokedAt = Date.now();
    await first.keys.revoke(key.slice(0, 16));
    const stoppedAfter: number[] = [];
    for (const base of bases) {
      for (;;) {
        if ((await status(base)) === 401 && (await connectCode(base)) === 'unauthenticated') break;
        expect(Date.now() - revokedAt, base).toBeLessThan(1_000);
        await sleep(20);
      }
      stoppedAfter.push(Date.now() - revokedAt);
    }
    expect(Math.max(...stoppedAfter)).toBeLessThan(1_000);
    // And it stays revoked over every protocol, on both.
    for (const base of bases) {
      for (const kind of ['grpc-h2', 'connect-binary-h2', 'grpc-web-h1'] as const) {
        const code = await webhooksAt(base, kind, key)
          .listWebhooks({})
          .then(
            () => 'ok',
            (e: unknown) => Code[ConnectError.from(e).code],
          );
        expect(code, `${base} ${kind}`).toBe('Unauthenticated');
      }
    }
  });
});

function webhooksAt(baseUrl: string, kind: 'grpc-h2' | 'connect-binary-h2' | 'grpc-web-h1', key: string) {
  const interceptors: Interceptor[] = [
    (next) => (req) => {
      req.header.set('authorization', `Bearer ${key}`);
      return next(req);
    },
  ];
  const transport =
    kind === 'grpc-h2'
      ? createGrpcTransport({ baseUrl, interceptors })
      : kind === 'connect-binary-h2'
        ? createConnectTransport({ baseUrl, httpVersion: '2', useBinaryFormat: true, interceptors })
        : createGrpcWebTransport({ baseUrl, httpVersion: '1.1', interceptors });
  return createClient(WebhookService, transport);
}
