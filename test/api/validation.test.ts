import { describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { EVENT_TYPES } from '../../src/domain/event-types.js';
import { startTestApi } from '../helpers/api.js';

// Production-like: private URLs refused, a small webhook cap and rate limit to reach them quickly.
const api = await startTestApi('api-validation', {
  WEBHOOKS_ALLOW_PRIVATE_URLS: 'false',
  WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE: '3',
  WEBHOOKS_RATE_LIMIT_PER_MINUTE: '40',
});
const ok = { url: 'https://93.184.215.14/hooks', events: ['email.sent'] };

async function refused(body: Record<string, unknown>, key: string, field: string) {
  const res = await api.rest('POST', '/v1/webhooks', key, { ...ok, ...body });
  expect(res.status, JSON.stringify(body)).toBe(400);
  expect(res.json.error.code).toBe('invalid_argument');
  expect(res.json.error.field, JSON.stringify(body)).toBe(field);
  return res.json.error.message as string;
}

describe('webhook validation (nothing stored on refusal)', () => {
  it('checks url, events, agent, description and status', async () => {
    const key = await api.newKey();
    await refused({ url: '' }, key, 'url');
    await refused({ url: 'not a url' }, key, 'url');
    await refused({ url: 'ftp://example.com/x' }, key, 'url');
    await refused({ url: 'https://user:pw@example.com/x' }, key, 'url');
    await refused({ url: `https://example.com/${'a'.repeat(2050)}` }, key, 'url');
    expect(await refused({ url: 'http://127.0.0.1:8080/x' }, key, 'url')).toMatch(/not a public address/);
    await refused({ url: 'http://169.254.169.254/latest/meta-data' }, key, 'url');
    await refused({ url: 'http://[::1]/x' }, key, 'url');
    await refused({ url: 'http://localhost/x' }, key, 'url');

    expect(await refused({ events: [] }, key, 'events')).toContain('*');
    const message = await refused({ events: ['email.sent', 'email.snet'] }, key, 'events[1]');
    expect(message).toContain('"email.snet"');
    for (const type of EVENT_TYPES) expect(message).toContain(type);

    await refused({ agent: 'Support Bot' }, key, 'agent');
    await refused({ agent: '-starts-with-dash' }, key, 'agent');
    await refused({ agent: 'a'.repeat(64) }, key, 'agent');
    await refused({ description: 'd'.repeat(1025) }, key, 'description');

    const typed = await api.rest('POST', '/v1/webhooks', key, { url: 'https://example.com', events: 'email.sent' });
    expect(typed.status).toBe(400);

    expect((await api.rest('GET', '/v1/webhooks', key)).json.data).toEqual([]);

    const created = await api.rest('POST', '/v1/webhooks', key, { ...ok, events: ['*', 'email.sent', '*'], agent: 'support_bot-2' });
    expect(created.status).toBe(201);
    expect(created.json.events).toEqual(['*', 'email.sent']);
    expect(created.json.agent).toBe('support_bot-2');

    const patch = await api.rest('PATCH', `/v1/webhooks/${created.json.id}`, key, { status: 'paused' });
    expect(patch.status).toBe(400);
    expect(patch.json.error.field).toBe('status');
    const patchUrl = await api.rest('PATCH', `/v1/webhooks/${created.json.id}`, key, { url: 'http://10.0.0.1/x' });
    expect(patchUrl.json.error.field).toBe('url');
    const cleared = await api.rest('PATCH', `/v1/webhooks/${created.json.id}`, key, { agent: '' });
    expect(cleared.json.agent).toBeNull();
    expect(cleared.json.url).toBe(ok.url);
  });

  it('caps the webhooks of a workspace with failed_precondition (400): waiting does not help', async () => {
    const key = await api.newKey();
    for (let i = 0; i < 3; i++) expect((await api.rest('POST', '/v1/webhooks', key, ok)).status).toBe(201);
    const over = await api.rest('POST', '/v1/webhooks', key, ok);
    expect(over.status).toBe(400);
    expect(over.json.error.code).toBe('failed_precondition');
    const connect = await api.webhooks('connect-json-h1', key).createWebhook(ok).catch((e) => ConnectError.from(e));
    expect(connect).toBeInstanceOf(ConnectError);
    expect((connect as ConnectError).code).toBe(Code.FailedPrecondition);
    expect(over.json.error.message).toContain('3');
  });

  it('rate-limits each API key with 429 and Retry-After', async () => {
    const key = await api.newKey();
    const other = await api.newKey();
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 90; i++) {
      const res = await api.rest('GET', '/v1/webhooks', key);
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    // The fixed window may roll over mid-loop; one side of it still sees more than 40 calls.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect((await api.rest('GET', '/v1/webhooks', other)).status).toBe(200);
  });
});
