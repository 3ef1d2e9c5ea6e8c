import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it, vi } from 'vitest';
import { apiKeyCommand } from '../../src/cli/api-key-command.js';
import { loadConfig } from '../../src/config/config.js';
import { grpcCall, grpcJsClient, startTestApi } from '../helpers/api.js';
import { ensureDevKey } from '../../src/api/dev-key.js';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { mongodbUri, useMongo } from '../helpers/servers.js';
import { settle } from '../helpers/wait.js';

const api = await startTestApi('api-auth');

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (e: unknown) => Code[ConnectError.from(e).code],
  );

/** Runs the CLI in-process against the test service's database; returns its stdout lines. */
async function cli(args: string[]): Promise<{ code: number; lines: string[] }> {
  const config = loadConfig({ MONGODB_URI: mongodbUri(), MONGODB_DATABASE: api.config.mongodbDatabase, LOG_LEVEL: 'silent' });
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  try {
    const code = await apiKeyCommand(config, args);
    return { code, lines: out.join('').trimEnd().split('\n') };
  } finally {
    spy.mockRestore();
  }
}

describe('API keys', () => {
  it('refuses missing, malformed, unknown and revoked keys alike with 401 and no hint', async () => {
    const key = await api.newKey();
    const unknown = `hum_sk_live_${'A'.repeat(40)}`;
    const answers: Array<{ status: number; body: any }> = [];
    for (const authorization of [undefined, 'Bearer', 'Basic abc', `Bearer ${key.slice(0, -1)}`, 'Bearer not_a_key', `Bearer ${unknown}`]) {
      const res = await fetch(`${api.baseUrl}/v1/webhooks`, { headers: authorization ? { authorization } : {} });
      answers.push({ status: res.status, body: await res.json() });
    }
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer).toEqual(answers[0]);
    }
    expect(answers[0]!.body.error.code).toBe('unauthenticated');

    for (const kind of ['connect-json-h1', 'grpc-h2', 'grpc-web-h1'] as const) {
      expect(await codeOf(api.webhooks(kind, unknown).listWebhooks({})), kind).toBe('Unauthenticated');
      expect(await codeOf(api.webhooks(kind).listWebhooks({})), kind).toBe('Unauthenticated');
    }
    expect(await codeOf(api.events('connect-json-h1').publishEvent({}))).toBe('Unauthenticated');
  });

  it('stores only a hash and a prefix', async () => {
    const key = await api.newKey('hashed');
    const docs = await api.db.collection('api_keys').find({ workspace: 'hashed' }).toArray();
    expect(docs).toHaveLength(1);
    expect(JSON.stringify(docs)).not.toContain(key);
    expect(JSON.stringify(docs)).not.toContain(key.slice(16));
    expect(docs[0]!.prefix).toBe(key.slice(0, 16));
    expect(docs[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('api-key create / list / revoke from the command line; a revoked key stops within 1 s', async () => {
    const created = await cli(['create', '--workspace', 'cli-team', '--name', 'ci']);
    expect(created.code).toBe(0);
    const key = created.lines[created.lines.length - 1]!;
    expect(key).toMatch(/^hum_sk_live_[0-9A-Za-z]{32,}$/);
    expect((await api.rest('GET', '/v1/webhooks', key)).status).toBe(200);

    const listed = await cli(['list', '--workspace', 'cli-team']);
    expect(listed.code).toBe(0);
    expect(listed.lines).toHaveLength(1);
    expect(listed.lines[0]).toContain(key.slice(0, 16));
    expect(listed.lines[0]).toContain('ci');
    expect(listed.lines.join('\n')).not.toContain(key);

    const revoked = await cli(['revoke', key.slice(0, 16)]);
    expect(revoked.code).toBe(0);
    const revokedAt = Date.now();
    while ((await api.rest('GET', '/v1/webhooks', key)).status !== 401) {
      expect(Date.now() - revokedAt).toBeLessThan(1_000);
      await settle(20);
    }
    expect((await cli(['list', '--workspace', 'cli-team'])).lines[0]).toContain('revoked');

    expect((await cli(['create', '--workspace', 'Bad_Slug'])).code).toBe(2);
    expect((await cli(['revoke', 'hum_sk_live_none'])).code).toBe(1);
  });
});

describe('first start on the local stack', () => {
  it('creates workspace dev and one key, printed once', async () => {
    const store = new ApiKeyStore((await useMongo('devkey')).db);
    await store.init();
    const printed: string[] = [];
    expect(await ensureDevKey(store, (text) => printed.push(text))).toBe(true);
    expect(await ensureDevKey(store, (text) => printed.push(text))).toBe(false);
    expect(printed).toHaveLength(1);
    const key = /hum_sk_live_[0-9A-Za-z]+/.exec(printed[0]!)![0];
    expect(await store.verify(key)).toMatchObject({ workspace: 'dev' });
  });
});

describe('workspace isolation', () => {
  it('answers not_found for another workspace’s webhook on every RPC and route', async () => {
    const owner = api.webhooks('connect-json-h1', await api.newKey());
    const theirs = await owner.createWebhook({ url: 'https://example.com/a', events: ['*'] });
    const otherKey = await api.newKey();
    const other = api.webhooks('connect-binary-h2', otherKey);
    const id = theirs.id;
    const deliveryId = `dlv_${'0'.repeat(24)}`;

    const calls: Array<[string, () => Promise<unknown>]> = [
      ['get', () => other.getWebhook({ id })],
      ['update', () => other.updateWebhook({ id, description: 'mine now' })],
      ['rotate', () => other.rotateWebhookSecret({ id })],
      ['secret', () => other.getWebhookSecret({ id })],
      ['test', () => other.sendTestEvent({ id })],
      ['deliveries', () => other.listDeliveries({ webhookId: id })],
      ['delivery counts', () => other.getDeliveryCounts({ webhookId: id })],
      ['delivery', () => other.getDelivery({ webhookId: id, deliveryId })],
      ['retry', () => other.retryDelivery({ webhookId: id, deliveryId })],
      ['delete', () => other.deleteWebhook({ id })],
    ];
    for (const [name, call] of calls) expect(await codeOf(call()), name).toBe('NotFound');
    expect((await other.listWebhooks({})).webhooks).toEqual([]);

    for (const [method, route] of [
      ['GET', `/v1/webhooks/${id}`],
      ['PATCH', `/v1/webhooks/${id}`],
      ['DELETE', `/v1/webhooks/${id}`],
      ['POST', `/v1/webhooks/${id}/rotate-secret`],
      ['GET', `/v1/webhooks/${id}/secret`],
      ['POST', `/v1/webhooks/${id}/test`],
      ['GET', `/v1/webhooks/${id}/deliveries`],
      ['GET', `/v1/webhooks/${id}/delivery-counts`],
      ['GET', `/v1/webhooks/${id}/deliveries/${deliveryId}`],
      ['POST', `/v1/webhooks/${id}/deliveries/${deliveryId}/retry`],
    ] as const) {
      const res = await api.rest(method, route, otherKey, method === 'GET' || method === 'DELETE' ? undefined : {});
      expect(res.status, `${method} ${route}`).toBe(404);
    }
    // A missing id answers exactly the same.
    const missing = await api.rest('GET', `/v1/webhooks/whk_${'x'.repeat(24)}`, otherKey);
    const foreign = await api.rest('GET', `/v1/webhooks/${id}`, otherKey);
    expect(missing.json.error.code).toBe(foreign.json.error.code);

    // Still there, unchanged, for its owner.
    expect((await owner.getWebhook({ id })).description).toBe('');
  });

  it('forces the key’s workspace onto published events and validates them', async () => {
    const key = await api.newKey();
    const bad = [
      [{ type: 'email.nope', data: {} }, 'type'],
      [{ data: {} }, 'type'],
      [{ type: 'email.sent' }, 'data'],
      [{ type: 'email.sent', data: {}, agent: 'Not A Slug' }, 'agent'],
      [{ type: 'email.sent', data: {}, id: 'bad id with spaces' }, 'id'],
    ] as const;
    for (const [event, field] of bad) {
      const res = await api.rest('POST', '/v1/events', key, event);
      expect(res.status, JSON.stringify(event)).toBe(400);
      expect(res.json.error.field, JSON.stringify(event)).toBe(field);
    }
    const grpc = grpcJsClient(api.baseUrl, 'EventService');
    const error: any = await grpcCall(grpc, 'PublishEvent', { event: { type: 'card.unknown' } }, key).catch((e: unknown) => e);
    expect(error.code).toBe(3);
  });
});
