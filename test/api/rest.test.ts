import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createClient } from '@connectrpc/connect';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { describe, expect, it } from 'vitest';
import { Health, HealthCheckResponse_ServingStatus } from '../../src/gen/grpc/health/v1/health_pb.js';
import { WebhookStore } from '../../src/store/webhook-store.js';
import { startTestApi } from '../helpers/api.js';

const exec = promisify(execFile);
const api = await startTestApi('api-rest');

describe('REST routes from the google.api.http annotations', () => {
  it('creates, reads, lists, patches and deletes with snake_case JSON', async () => {
    const key = await api.newKey();
    const created = await api.rest('POST', '/v1/webhooks', key, { url: 'https://example.com/hooks', events: ['email.received'], agent: null });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/v1/webhooks/${created.json.id}`);
    expect(created.json).toMatchObject({
      url: 'https://example.com/hooks',
      events: ['email.received'],
      agent: null,
      description: '',
      status: 'active',
    });
    expect(created.json.id).toMatch(/^whk_/);
    expect(created.json.signing_secret).toMatch(/^whsec_/);
    expect(created.json.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);

    const { id } = created.json;
    const got = await api.rest('GET', `/v1/webhooks/${id}`, key);
    expect(got.status).toBe(200);
    expect(got.json).not.toHaveProperty('signing_secret');
    expect(got.json).toHaveProperty('agent', null);
    expect(got.json.url).toBe('https://example.com/hooks');

    const list = await api.rest('GET', '/v1/webhooks?limit=10', key);
    expect(list.status).toBe(200);
    expect(list.json.data.map((w: { id: string }) => w.id)).toEqual([id]);
    expect(list.json.next_cursor).toBe('');
    expect(list.json.data[0].agent).toBeNull();

    const patched = await api.rest('PATCH', `/v1/webhooks/${id}`, key, { agent: 'support-bot', status: 'disabled' });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id, agent: 'support-bot', status: 'disabled', events: ['email.received'] });

    expect((await api.rest('DELETE', `/v1/webhooks/${id}`, key)).status).toBe(200);
    const gone = await api.rest('GET', `/v1/webhooks/${id}`, key);
    expect(gone.status).toBe(404);
    expect(gone.json.error.code).toBe('not_found');
  });

  it('pages through 250 webhooks newest first without gaps or repeats', async () => {
    const key = await api.newKey();
    const client = api.webhooks('connect-binary-h2', key);
    const ids: string[] = [];
    for (let i = 0; i < 250; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: 25 }, () => client.createWebhook({ url: 'https://example.com/h', events: ['*'] })),
      );
      ids.push(...batch.map((w) => w.id));
    }
    const seen: string[] = [];
    let cursor = '';
    let pages = 0;
    do {
      const page = await api.rest('GET', `/v1/webhooks?limit=40${cursor ? `&cursor=${cursor}` : ''}`, key);
      expect(page.status).toBe(200);
      seen.push(...page.json.data.map((w: { id: string }) => w.id));
      cursor = page.json.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(7);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect(new Set(seen)).toEqual(new Set(ids));

    // Newest first, also across the Connect page_size/page_token names.
    const first = await client.listWebhooks({ pageSize: 0 });
    expect(first.webhooks).toHaveLength(50);
    const created = first.webhooks.map((w) => w.createdAt!.seconds * 1000n + BigInt(Math.floor(w.createdAt!.nanos / 1e6)));
    expect([...created].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(created);
    expect((await client.listWebhooks({ pageSize: 10_000 })).webhooks).toHaveLength(250);
  });

  it('rotates the signing secret', async () => {
    const workspace = `rotate-${Date.now().toString(36)}`;
    const key = await api.newKey(workspace);
    const created = await api.rest('POST', '/v1/webhooks', key, { url: 'https://example.com/r', events: ['*'] });
    const rotated = await api.rest('POST', `/v1/webhooks/${created.json.id}/rotate-secret`, key, { expire_previous_in: '3600s' });
    expect(rotated.status).toBe(200);
    expect(rotated.json.signing_secret).toMatch(/^whsec_/);
    expect(rotated.json.signing_secret).not.toBe(created.json.signing_secret);

    // The previous secret keeps signing for the hour asked for, beside the new one.
    const stored = await new WebhookStore(api.db).getById(workspace, created.json.id);
    expect(stored!.secrets.map((s) => s.secret)).toEqual([rotated.json.signing_secret, created.json.signing_secret]);
    const expiresIn = stored!.secrets[1]!.expiresAt!.getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(3_500_000);
    expect(expiresIn).toBeLessThanOrEqual(3_600_000);

    const byDefault = await api.webhooks('connect-json-h1', key).rotateWebhookSecret({ id: created.json.id });
    const again = await new WebhookStore(api.db).getById(workspace, created.json.id);
    expect(again!.secrets.map((s) => s.secret)).toEqual([byDefault.signingSecret, rotated.json.signing_secret]);
    expect(again!.secrets[1]!.expiresAt!.getTime() - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
    const noBody = await api.rest('POST', `/v1/webhooks/${created.json.id}/rotate-secret`, key);
    expect(noBody.status).toBe(200);
    const bad = await api.rest('POST', `/v1/webhooks/${created.json.id}/rotate-secret`, key, { expire_previous_in: '-5s' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.field).toBe('expire_previous_in');
  });

  it('shows the current signing secret on GET /v1/webhooks/{id}/secret, and on every protocol', async () => {
    const key = await api.newKey();
    const created = await api.rest('POST', '/v1/webhooks', key, { url: 'https://example.com/s', events: ['*'] });
    const shown = await api.rest('GET', `/v1/webhooks/${created.json.id}/secret`, key);
    expect(shown).toMatchObject({ status: 200, json: { signing_secret: created.json.signing_secret } });
    const rotated = await api.rest('POST', `/v1/webhooks/${created.json.id}/rotate-secret`, key, { expire_previous_in: '3600s' });
    // The new secret, not the one still signing beside it until it expires.
    expect((await api.rest('GET', `/v1/webhooks/${created.json.id}/secret`, key)).json).toEqual({ signing_secret: rotated.json.signing_secret });
    for (const kind of ['connect-binary-h2', 'grpc-h2', 'grpc-web-h1'] as const) {
      expect((await api.webhooks(kind, key).getWebhookSecret({ id: created.json.id })).signingSecret, kind).toBe(rotated.json.signing_secret);
    }
    // Read only: the webhook itself still hides it.
    expect((await api.rest('GET', `/v1/webhooks/${created.json.id}`, key)).json.signing_secret).toBeUndefined();
  });

  it('answers REST errors as {"error": {code, message, field}}', async () => {
    const key = await api.newKey();
    const res = await api.rest('POST', '/v1/webhooks', key, { url: 'https://example.com', events: ['email.sent', 'email.nope'] });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_argument');
    expect(res.json.error.field).toBe('events[1]');
    expect(res.json.error.message).toContain('"email.nope"');
    expect(res.json.error.message).toContain('email.received');

    const unknownField = await api.rest('POST', '/v1/webhooks', key, { url: 'https://example.com', events: ['*'], colour: 'red' });
    expect(unknownField.status).toBe(400);
    expect(unknownField.json.error.message).toContain('colour');

    const badJson = await api.rest('POST', '/v1/webhooks', key, '{"url": ');
    expect(badJson.status).toBe(400);
    expect(badJson.json.error.code).toBe('invalid_argument');

    const notRoute = await api.rest('GET', '/v1/nothing-here', key);
    expect(notRoute.status).toBe(404);
    expect(notRoute.json.error.code).toBe('not_found');

    const wrongVerb = await api.rest('PUT', '/v1/webhooks', key, {});
    expect(wrongVerb.status).toBe(405);
    expect(wrongVerb.headers.get('allow')).toContain('POST');

    const unknownQuery = await api.rest('GET', '/v1/webhooks?colour=red', key);
    expect(unknownQuery.status).toBe(400);
    expect(unknownQuery.json.error.field).toBe('colour');

    const negative = await api.rest('GET', '/v1/webhooks?limit=-1', key);
    expect(negative.status).toBe(400);
    expect(negative.json.error.field).toBe('limit');

    const badCursor = await api.rest('GET', '/v1/webhooks?cursor=not-a-cursor', key);
    expect(badCursor.status).toBe(400);
  });

  it('refuses bodies over 1 MiB with 413 on REST and Connect', async () => {
    const key = await api.newKey();
    const huge = JSON.stringify({ url: 'https://example.com', events: ['*'], description: 'x'.repeat(1024 * 1024 + 10) });
    const rest = await api.rest('POST', '/v1/webhooks', key, huge);
    expect(rest.status).toBe(413);
    expect(rest.json.error.code).toBe('payload_too_large');

    const connect = await fetch(`${api.baseUrl}/humiris.webhooks.v1.WebhookService/CreateWebhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: huge,
    });
    expect(connect.status).toBe(413);

    const events = await api.rest('POST', '/v1/events', key, { type: 'email.sent', data: { blob: 'y'.repeat(1024 * 1024 + 1) } });
    expect(events.status).toBe(413);

    // Over h2c too, where connection-level headers are not allowed in the reply.
    const h2 = await exec('sh', ['-c', `head -c 1100000 /dev/zero | tr '\\0' a | curl -sS --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version}' -X POST --data-binary @- -H 'content-type: application/json' "${api.baseUrl}/v1/webhooks"`]);
    expect(h2.stdout).toBe('413 2');
  });

  it('serves /healthz, /readyz and grpc.health.v1.Health without a key', async () => {
    const grpcJs = await new Promise<any>((resolve, reject) => {
      const definition = protoLoader.loadSync('grpc/health/v1/health.proto', { enums: String, includeDirs: [new URL('../../proto', import.meta.url).pathname] });
      const { Health: HealthClient } = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1;
      const client = new HealthClient(new URL(api.baseUrl).host, grpc.credentials.createInsecure());
      client.Check({ service: '' }, (error: unknown, reply: unknown) => {
        client.close();
        if (error) reject(error);
        else resolve(reply);
      });
    });
    expect(grpcJs.status).toBe('SERVING');

    const health = await fetch(`${api.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${api.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    const client = createClient(Health, createGrpcTransport({ baseUrl: api.baseUrl }));
    expect((await client.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await client.check({ service: 'humiris.webhooks.v1.WebhookService' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    await expect(client.check({ service: 'nope' })).rejects.toMatchObject({ code: 5 });
  });

  it('answers curl over HTTP/1.1 and h2c prior knowledge (the README walkthrough runs in test/cli/walkthrough.test.ts)', async () => {
    const key = await api.newKey();
    const env = { ...process.env, HUMIRIS_API_KEY: key, HUMIRIS_URL: api.baseUrl };
    const curl = async (script: string) => JSON.parse((await exec('sh', ['-c', script], { env })).stdout);

    const created = await curl(`curl -sS -X POST "$HUMIRIS_URL/v1/webhooks" \\
  -H "Authorization: Bearer $HUMIRIS_API_KEY" -H "Content-Type: application/json" \\
  -d '{"url": "https://example.com/webhooks/humiris", "events": ["email.received", "sms.received"], "agent": null}'`);
    expect(created.id).toMatch(/^whk_/);
    expect(created.signing_secret).toMatch(/^whsec_/);
    expect(created).toMatchObject({ events: ['email.received', 'sms.received'], status: 'active' });
    const list = await curl(`curl -sS "$HUMIRIS_URL/v1/webhooks" -H "Authorization: Bearer $HUMIRIS_API_KEY"`);
    expect(list.data.map((w: { id: string }) => w.id)).toEqual([created.id]);

    const h2 = await curl(`curl -sS --http2-prior-knowledge "$HUMIRIS_URL/v1/webhooks/${created.id}" -H "Authorization: Bearer $HUMIRIS_API_KEY"`);
    expect(h2.id).toBe(created.id);

    const connect = await curl(`curl -sS -X POST "$HUMIRIS_URL/humiris.webhooks.v1.WebhookService/ListWebhooks" \\
  -H "Authorization: Bearer $HUMIRIS_API_KEY" -H "Content-Type: application/json" -d '{"limit": 5}'`);
    expect(connect.webhooks.map((w: { id: string }) => w.id)).toEqual([created.id]);
  });
});
