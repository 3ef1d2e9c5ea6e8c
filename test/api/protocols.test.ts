import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { grpcCall, grpcJsClient, startTestApi, type TransportKind } from '../helpers/api.js';

const api = await startTestApi('api-protocols');

describe('one port, every protocol', () => {
  const kinds: TransportKind[] = ['connect-json-h1', 'connect-binary-h2', 'grpc-web-h1', 'grpc-h2'];

  it.each(kinds)('%s: create, get, list, update, delete', async (kind) => {
    const client = api.webhooks(kind, await api.newKey());
    const created = await client.createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['email.received', 'email.received', 'sms.sent'] });
    expect(created.id).toMatch(/^whk_/);
    expect(created.signingSecret).toMatch(/^whsec_[A-Za-z0-9_-]{32,}$/);
    expect(created.events).toEqual(['email.received', 'sms.sent']);
    expect(created.status).toBe('active');

    const got = await client.getWebhook({ id: created.id });
    expect(got.signingSecret).toBeUndefined();
    expect(got.url).toBe('http://127.0.0.1:9/hook');

    const list = await client.listWebhooks({});
    expect(list.webhooks.map((w) => w.id)).toEqual([created.id]);
    expect(list.nextPageToken).toBe('');

    const updated = await client.updateWebhook({ id: created.id, status: 'disabled', description: 'paused' });
    expect([updated.status, updated.description, updated.url]).toEqual(['disabled', 'paused', created.url]);
    expect(updated.events).toEqual(created.events);

    await client.deleteWebhook({ id: created.id });
    await expect(client.getWebhook({ id: created.id })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it('a plain @grpc/grpc-js client with insecure credentials', async () => {
    const key = await api.newKey();
    const client = grpcJsClient(api.baseUrl, 'WebhookService');
    const created = await grpcCall<any>(client, 'CreateWebhook', { url: 'https://example.com/hook', events: ['*'] }, key);
    expect(created.id).toMatch(/^whk_/);
    expect(created.signing_secret).toMatch(/^whsec_/);
    const list = await grpcCall<any>(client, 'ListWebhooks', {}, key);
    expect(list.webhooks.map((w: any) => w.id)).toEqual([created.id]);

    const error: any = await grpcCall(client, 'CreateWebhook', { url: 'https://example.com', events: ['nope'] }, key).catch((e: any) => e);
    expect(error.code).toBe(3); // INVALID_ARGUMENT
    expect(error.details).toMatch(/unknown event type "nope"/);
    expect(error?.metadata.get('x-humiris-error-field')).toEqual(['events[0]']);

    const unauth: any = await grpcCall(client, 'ListWebhooks', {}).catch((e: any) => e);
    expect(unauth.code).toBe(16); // UNAUTHENTICATED
  });

  it('Connect errors carry the field for every protocol', async () => {
    const key = await api.newKey();
    for (const kind of kinds) {
      const error = await api
        .webhooks(kind, key)
        .createWebhook({ url: 'https://example.com', events: ['email.sent', 'bogus'] })
        .then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(error?.code, kind).toBe(Code.InvalidArgument);
      expect(error?.metadata.get('x-humiris-error-field'), kind).toBe('events[1]');
    }
  });
});

describe('concurrent writes', () => {
  it('creates many webhooks at once in a new workspace', async () => {
    const key = await api.newKey();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => api.rest('POST', '/v1/webhooks', key, { url: `http://127.0.0.1:9/hook-${i}`, events: ['*'] })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
  });
});
