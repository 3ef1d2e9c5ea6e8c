import { Code, ConnectError } from '@connectrpc/connect';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { startTestService } from '../helpers/service.js';

/*
 * SSRF: with WEBHOOKS_ALLOW_PRIVATE_URLS=false, no webhook URL may point inside our network,
 * whatever spelling the address takes, neither when it is created or changed nor when it is
 * sent to (a name that resolved publicly at create time may resolve privately later).
 */
const strict = await startTestApi('ssrf-api', { WEBHOOKS_ALLOW_PRIVATE_URLS: 'false' });

const INTERNAL_URLS = [
  // loopback
  'http://127.0.0.1/',
  'http://127.1.2.3:8080/hook',
  'http://127.1/',
  'http://localhost/',
  'http://localhost:8080/hook',
  // private
  'http://10.0.0.1/',
  'https://10.255.255.254/hook',
  'http://172.16.0.1/',
  'http://172.31.255.255/',
  'http://192.168.0.1/',
  'http://192.168.255.1:9000/',
  // link-local and cloud metadata
  'http://169.254.0.1/',
  'http://169.254.169.254/latest/meta-data/',
  'http://169.254.169.254:80/computeMetadata/v1/',
  // carrier-grade NAT
  'http://100.64.0.1/',
  'http://100.127.255.254/',
  // "this network"
  'http://0.0.0.0/',
  'http://0/',
  // IPv6 loopback, unspecified, ULA, link-local
  'http://[::1]/',
  'http://[0:0:0:0:0:0:0:1]:8080/',
  'http://[::]/',
  'http://[fc00::1]/',
  'http://[fd12:3456:789a::1]/',
  'http://[fe80::1]/',
  'http://[febf:ffff::1]/',
  // IPv4-mapped / -compatible / NAT64 wrapping internal IPv4
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:7f00:1]/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::ffff:10.0.0.1]/',
  'http://[64:ff9b::a9fe:a9fe]/',
  // decimal, octal, hex and mixed spellings
  'http://2130706433/',
  'http://0177.0.0.1/',
  'http://0x7f.0.0.1/',
  'http://0x7f000001/',
  'http://017700000001/',
  'http://0x7f.1/',
  'http://2852039166/', // 169.254.169.254
  'http://0xa9.0xfe.0xa9.0xfe/',
  'http://012.0.0.1/', // 10.0.0.1
  'http://3232235521/', // 192.168.0.1
];

const PUBLIC_URLS = ['https://93.184.216.34/', 'https://93.184.216.34:8443/hooks?x=1', 'http://[2606:4700:4700::1111]/hook'];

async function rejection(promise: Promise<unknown>): Promise<ConnectError | undefined> {
  return promise.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
}

describe('SSRF: internal addresses refused at create and update', () => {
  it('REST create and update answer 400 on field url for every internal spelling', async () => {
    const key = await strict.newKey();
    const existing = await strict.rest('POST', '/v1/webhooks', key, { url: 'https://93.184.216.34/', events: ['*'] });
    expect(existing.status).toBe(201);
    for (const url of INTERNAL_URLS) {
      const created = await strict.rest('POST', '/v1/webhooks', key, { url, events: ['*'] });
      expect(created.status, `create ${url}`).toBe(400);
      expect(created.json.error.code, `create ${url}`).toBe('invalid_argument');
      expect(created.json.error.field, `create ${url}`).toBe('url');
      expect(created.json.error.message, `create ${url}`).toMatch(/not a public address/);

      const updated = await strict.rest('PATCH', `/v1/webhooks/${existing.json.id}`, key, { url });
      expect(updated.status, `update ${url}`).toBe(400);
      expect(updated.json.error.field, `update ${url}`).toBe('url');
    }
    // Nothing was created, nothing changed.
    const list = await strict.rest('GET', '/v1/webhooks', key);
    expect(list.json.data.map((w: any) => w.url)).toEqual(['https://93.184.216.34/']);
  });

  it('Connect and gRPC refuse the same with invalid_argument on url', async () => {
    const key = await strict.newKey();
    for (const kind of ['connect-binary-h2', 'grpc-h2'] as const) {
      const client = strict.webhooks(kind, key);
      const existing = await client.createWebhook({ url: 'https://93.184.216.34/', events: ['*'] });
      for (const url of ['http://169.254.169.254/', 'http://[::ffff:127.0.0.1]/', 'http://0x7f.0.0.1/', 'http://localhost/']) {
        for (const error of [
          await rejection(client.createWebhook({ url, events: ['*'] })),
          await rejection(client.updateWebhook({ id: existing.id, url })),
        ]) {
          expect(error?.code, `${kind} ${url}`).toBe(Code.InvalidArgument);
          expect(error?.metadata.get('x-humiris-error-field'), `${kind} ${url}`).toBe('url');
        }
      }
    }
  });

  it('public literals are accepted, on create and update', async () => {
    const key = await strict.newKey();
    const first = await strict.rest('POST', '/v1/webhooks', key, { url: PUBLIC_URLS[0], events: ['*'] });
    expect(first.status).toBe(201);
    for (const url of PUBLIC_URLS) {
      const created = await strict.rest('POST', '/v1/webhooks', key, { url, events: ['*'] });
      expect(created.status, `create ${url}`).toBe(201);
      expect(created.json.url).toBe(url);
      const updated = await strict.rest('PATCH', `/v1/webhooks/${first.json.id}`, key, { url });
      expect(updated.status, `update ${url}`).toBe(200);
      expect(updated.json.url).toBe(url);
    }
  });
});

describe('SSRF: checked again at send time (DNS rebinding)', () => {
  it('a webhook whose host now resolves to loopback records a failed attempt and reaches nothing', async () => {
    const receiver = await startReceiver();
    const port = new URL(receiver.url).port;
    // The webhook was accepted while its name resolved publicly: here an API instance that allows
    // private URLs stands in for that moment. The dispatcher is a second instance on the same
    // database and topics that does not: `localhost` now resolves to 127.0.0.1 when it sends.
    const lenient = await startTestApi('ssrf-create', { WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOKS_RETRY_SCHEDULE: '1h' });
    await startTestService(
      'ssrf-dispatch',
      {
        WEBHOOKS_ALLOW_PRIVATE_URLS: 'false',
        WEBHOOKS_RETRY_SCHEDULE: '1h',
        MONGODB_DATABASE: lenient.config.mongodbDatabase,
        WEBHOOKS_TOPIC_PREFIX: lenient.config.topicPrefix,
      },
      ['matcher', 'dispatcher', 'retry'],
    );
    const key = await lenient.newKey();
    const client = lenient.webhooks('connect-json-h1', key);
    const hooks = [];
    for (const url of [`http://localhost:${port}/hook`, `http://127.0.0.1:${port}/hook`, `http://[::ffff:127.0.0.1]:${port}/hook`]) {
      hooks.push(await client.createWebhook({ url, events: ['*'] }));
    }
    const sent = await Promise.all(hooks.map((hook) => client.sendTestEvent({ id: hook.id })));

    for (const [i, delivery] of sent.entries()) {
      const deadline = Date.now() + 20_000;
      let got = await client.getDelivery({ webhookId: hooks[i]!.id, deliveryId: delivery.id });
      while (got.attempts.length === 0 && Date.now() < deadline) {
        await sleep(200);
        got = await client.getDelivery({ webhookId: hooks[i]!.id, deliveryId: delivery.id });
      }
      expect(got.attempts, hooks[i]!.url).toHaveLength(1);
      expect(got.attempts[0]!.error, hooks[i]!.url).toMatch(/address .* is not public/);
      expect(got.attempts[0]!.responseStatus).toBe(0);
      expect(got.status).toBe('retrying');
      expect(got.lastError).toMatch(/is not public/);
    }
    await sleep(300);
    expect(receiver.requests).toHaveLength(0);
  });
});
