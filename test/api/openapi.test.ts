import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compileErrors, validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { OPENAPI_FILE, openApiFromDescriptorSet, openApiText } from '../../src/api/openapi.js';
import { startTestApi } from '../helpers/api.js';

const root = new URL('../..', import.meta.url).pathname;
const checkedIn = readFileSync(OPENAPI_FILE, 'utf8');
const doc = JSON.parse(checkedIn);
const api = await startTestApi('openapi');

/** The schema of a JSON response, references followed. */
function responseSchema(route: string, verb: string, status: number): any {
  let response = doc.paths[route][verb].responses[String(status)];
  expect(response, `${verb.toUpperCase()} ${route} documents ${status}`).toBeDefined();
  if (response.$ref) response = doc.components.responses[response.$ref.split('/').pop()];
  return resolve(response.content['application/json'].schema);
}

const resolve = (schema: any): any => (schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema);

/** What the document promises of an object: every required property there, nothing undocumented. */
function expectConforms(schema: any, body: any) {
  expect(Object.keys(body).filter((k) => !(k in schema.properties))).toEqual([]);
  expect((schema.required ?? []).filter((k: string) => !(k in body))).toEqual([]);
}

describe('OpenAPI 3.1', () => {
  it('docs/openapi.json is what `npm run openapi` makes from the proto today', () => {
    const descriptors = execFileSync(path.join(root, 'scripts/buf.sh'), ['build', '--as-file-descriptor-set', '-o', '-'], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    const fresh = openApiText(openApiFromDescriptorSet(descriptors, version));
    // On a mismatch: run `npm run openapi` and commit docs/openapi.json.
    expect(checkedIn, 'docs/openapi.json is stale: run npm run openapi').toBe(fresh);
  }, 60_000);

  it('is a valid OpenAPI 3.1 document for @readme/openapi-parser, which also refuses a broken one', async () => {
    const result = await validate(structuredClone(doc));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(doc.openapi).toBe('3.1.0');

    const broken = structuredClone(doc);
    delete broken.components.schemas.Delivery;
    expect((await validate(broken)).valid).toBe(false);
  });

  it('has every REST route of the proto, with bearer auth, JSON names and the error body', () => {
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/healthz',
      '/openapi.json',
      '/readyz',
      '/v1/events',
      '/v1/webhooks',
      '/v1/webhooks/{id}',
      '/v1/webhooks/{id}/rotate-secret',
      '/v1/webhooks/{id}/test',
      '/v1/webhooks/{webhook_id}/deliveries',
      '/v1/webhooks/{webhook_id}/deliveries/{delivery_id}',
      '/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry',
    ]));
    expect(Object.keys(doc.paths['/v1/webhooks/{id}']).sort()).toEqual(['delete', 'get', 'patch']);
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    // The proto's json_name where it declares one, the proto field name elsewhere.
    expect(doc.paths['/v1/webhooks'].get.parameters.map((p: any) => p.name)).toEqual(['limit', 'cursor']);
    expect(doc.paths['/v1/webhooks/{webhook_id}/deliveries'].get.parameters.map((p: any) => `${p.in}:${p.name}`)).toEqual([
      'path:webhook_id',
      'query:status',
      'query:event_type',
      'query:limit',
      'query:cursor',
    ]);
    expect(Object.keys(doc.components.schemas.ListWebhooksResponse.properties)).toEqual(['data', 'next_cursor']);
    expect(doc.components.schemas.Delivery.properties.next_attempt_at).toMatchObject({ type: 'string', format: 'date-time' });
    // PublishEvent's body is the event itself.
    expect(doc.paths['/v1/events'].post.requestBody.content['application/json'].schema).toMatchObject({ $ref: '#/components/schemas/Event' });
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message']);
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toEqual(
      expect.arrayContaining(['invalid_argument', 'unauthenticated', 'not_found', 'payload_too_large', 'unsupported_media_type']),
    );
    expect(doc.components.responses.TooManyRequests.headers['Retry-After']).toBeDefined();
    // Descriptions come from the proto's comments.
    expect(doc.components.schemas.Webhook.properties.signing_secret.description).toMatch(/returned by CreateWebhook and RotateWebhookSecret only/);
  });

  it('is served at /openapi.json without a key', async () => {
    const res = await fetch(`${api.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe(checkedIn);
  });

  it('describes what the REST routes answer', async () => {
    const key = await api.newKey();
    const created = await api.rest('POST', '/v1/webhooks', key, { url: 'http://127.0.0.1:9/hook', events: ['email.received'], agent: null });
    expect(Object.keys(doc.paths['/v1/webhooks'].post.responses)).toContain(String(created.status));
    expectConforms(responseSchema('/v1/webhooks', 'post', created.status), created.json);

    const got = await api.rest('GET', `/v1/webhooks/${created.json.id}`, key);
    expectConforms(responseSchema('/v1/webhooks/{id}', 'get', got.status), got.json);
    expect(got.json.signing_secret).toBeUndefined();

    const list = await api.rest('GET', '/v1/webhooks?limit=1', key);
    expectConforms(responseSchema('/v1/webhooks', 'get', list.status), list.json);
    expectConforms(doc.components.schemas.Webhook, list.json.data[0]);

    const deliveries = await api.rest('GET', `/v1/webhooks/${created.json.id}/deliveries`, key);
    expectConforms(responseSchema('/v1/webhooks/{webhook_id}/deliveries', 'get', deliveries.status), deliveries.json);

    for (const [res, route, verb] of [
      [await api.rest('GET', '/v1/webhooks'), '/v1/webhooks', 'get'],
      [await api.rest('GET', '/v1/webhooks/whk_missing', key), '/v1/webhooks/{id}', 'get'],
      [await api.rest('POST', '/v1/webhooks', key, { url: 'http://127.0.0.1:9/', events: ['nope'] }), '/v1/webhooks', 'post'],
      [await api.rest('POST', '/v1/webhooks', key, 'url=x'), '/v1/webhooks', 'post'],
    ] as const) {
      const schema = responseSchema(route, verb, res.status);
      expectConforms(schema, res.json);
      expectConforms(schema.properties.error, res.json.error);
      expect(schema.properties.error.properties.code.enum).toContain(res.json.error.code);
    }
  });
});
