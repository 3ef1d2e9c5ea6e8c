import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startTestApi } from '../helpers/api.js';

const api = await startTestApi('api-malformed');
const key = await api.newKey();
const { id } = (await api.rest('POST', '/v1/webhooks', key, { url: 'https://example.com/h', events: ['*'] })).json;

const routes: Array<[string, string]> = [
  ['POST', '/v1/webhooks'],
  ['GET', '/v1/webhooks'],
  ['GET', `/v1/webhooks/${id}`],
  ['PATCH', `/v1/webhooks/${id}`],
  ['DELETE', '/v1/webhooks/whk_doesnotexist'],
  ['POST', `/v1/webhooks/${id}/rotate-secret`],
  ['GET', `/v1/webhooks/${id}/deliveries`],
  ['GET', `/v1/webhooks/${id}/deliveries/dlv_x`],
  ['POST', `/v1/webhooks/${id}/deliveries/dlv_x/retry`],
  ['POST', '/v1/events'],
];

async function status(method: string, path: string, body?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${api.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: method === 'GET' || method === 'DELETE' ? undefined : body,
  });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : text };
}

describe('malformed requests answer 4xx with a message, never 5xx', () => {
  it('hand-picked corpus', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const corpus: Array<[string, string, string?]> = [
      ['POST', '/v1/webhooks', '{"url": "https://example.com", "events": ["*"], "page_size": 5}'],
      ['POST', '/v1/webhooks', '{"url": 5, "events": ["*"]}'],
      ['POST', '/v1/webhooks', '{"url": "https://example.com", "events": [null]}'],
      ['POST', '/v1/webhooks', '{"url": "https://example.com\\r\\nX-Evil: 1", "events": ["*"]}'],
      ['POST', '/v1/webhooks', '{"url": "https://exa\u202emple.com", "events": ["*"]}'],
      ['POST', '/v1/webhooks', '[]'],
      ['POST', '/v1/webhooks', 'null'],
      ['POST', '/v1/webhooks', '"text"'],
      ['POST', '/v1/webhooks', deep],
      ['POST', '/v1/events', `{"type": "email.sent", "data": ${deepObject}}`],
      ['POST', '/v1/events', '{"type": "email.sent", "data": [1, 2]}'],
      ['POST', '/v1/events', '{"type": "email.sent", "data": {}, "created_at": "yesterday"}'],
      ['POST', '/v1/events', '\u00ff\u00fe garbage'],
      ['GET', '/v1/webhooks?limit=99999999999999999999'],
      ['GET', '/v1/webhooks?limit=1.5'],
      ['GET', '/v1/webhooks?limit=abc'],
      ['GET', '/v1/webhooks/..%2F..%2Fetc%2Fpasswd'],
      ['GET', '/v1/webhooks/%E0%A4%A'],
      ['GET', `/v1/webhooks/${id}/deliveries?status=nope`],
      ['GET', `/v1/webhooks/${id}/deliveries?event_type=nope`],
      ['POST', `/v1/webhooks/${id}/rotate-secret`, '{"expire_previous_in": "forever"}'],
      ['PATCH', `/v1/webhooks/${id}`, '{"events": "email.sent"}'],
    ];
    for (const [method, path, body] of corpus) {
      const res = await status(method, path, body);
      expect(res.status, `${method} ${path} ${body?.slice(0, 80)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path} ${body?.slice(0, 80)}`).toBeLessThan(500);
      expect(res.json.error.message.length).toBeGreaterThan(0);
    }
    // The same on the Connect protocol, which parses without the REST layer in front.
    for (const body of [`{"event": {"type": "email.sent", "data": ${deepObject}}}`, `{"event": ${deep}}`, '{"event": 1}']) {
      const res = await fetch(`${api.baseUrl}/humiris.webhooks.v1.EventService/PublishEvent`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
      });
      expect(res.status, body.slice(0, 60)).toBe(400);
    }
    expect((await fetch(`${api.baseUrl}/healthz`)).status).toBe(200);
  });

  it('generated bodies and query strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((v) => JSON.stringify({ url: 'https://example.com', events: v }))),
        fc.dictionary(fc.constantFrom('limit', 'cursor', 'status', 'event_type', 'x'), fc.string({ maxLength: 20 })),
        async ([method, path], body, query) => {
          const search = new URLSearchParams(query).toString();
          const res = await status(method, search ? `${path}?${search}` : path, body);
          expect(res.status, `${method} ${path}?${search} ${body.slice(0, 100)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });
});
