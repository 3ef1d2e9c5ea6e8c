import { create, getOption, hasOption, type DescMethod } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { http } from '../../src/gen/google/api/annotations_pb.js';
import { EventService } from '../../src/gen/humiris/webhooks/v1/event_service_pb.js';
import { WebhookService } from '../../src/gen/humiris/webhooks/v1/webhook_service_pb.js';
import { startTestApi } from '../helpers/api.js';

/*
 * Every RPC and every REST route is enumerated from the service descriptors, so a new RPC is
 * covered without touching this file: one that names a webhook or delivery must answer
 * not_found for another workspace's ids exactly as for missing ones; one that names none must
 * be listed below with the check that shows it stays inside the caller's workspace.
 */
const api = await startTestApi('security-isolation');
const SERVICES = [WebhookService, EventService] as const;
const ID_FIELDS: Record<string, 'webhook' | 'delivery'> = { id: 'webhook', webhook_id: 'webhook', delivery_id: 'delivery' };
const WORKSPACE_SCOPED_WITHOUT_ID = new Set(['CreateWebhook', 'ListWebhooks', 'PublishEvent', 'PublishEvents']);

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'OK',
    (e: unknown) => Code[ConnectError.from(e).code],
  );
const idFieldsOf = (method: DescMethod) => method.input.fields.filter((f) => f.name in ID_FIELDS);

// Workspace B owns a webhook with a delivery; A is the intruder.
const keyA = await api.newKey();
const keyB = await api.newKey();
const owner = api.webhooks('connect-json-h1', keyB);
const victim = await owner.createWebhook({ url: 'https://example.com/b', events: ['*'], description: 'B' });
const victimDelivery = await owner.sendTestEvent({ id: victim.id });
const foreign = { webhook: victim.id, delivery: victimDelivery.id };
const missing = { webhook: `whk_${'Z'.repeat(24)}`, delivery: `dlv_${'0'.repeat(26)}` };

function requestFor(method: DescMethod, ids: { webhook: string; delivery: string }) {
  const init: Record<string, string> = {};
  for (const field of idFieldsOf(method)) init[field.localName] = ids[ID_FIELDS[field.name]!];
  return create(method.input, init);
}

describe('tenant isolation, enumerated from the service descriptors', () => {
  const methods = SERVICES.flatMap((service) => service.methods.map((method) => ({ service, method })));

  it('classifies every RPC: it names a resource, or is known to stay inside the workspace', () => {
    for (const { method } of methods) {
      if (idFieldsOf(method).length === 0) expect(WORKSPACE_SCOPED_WITHOUT_ID, `${method.name} needs an isolation check`).toContain(method.name);
    }
  });

  for (const { service, method } of methods.filter(({ method }) => idFieldsOf(method).length > 0)) {
    it(`${service.typeName}/${method.name}: another workspace's ids answer not_found, like missing ones`, async () => {
      for (const kind of ['connect-json-h1', 'grpc-h2', 'grpc-web-h1'] as const) {
        const client: any = api.webhooks(kind, keyA);
        expect(await codeOf(client[method.localName](requestFor(method, foreign))), `${kind} foreign`).toBe('NotFound');
        expect(await codeOf(client[method.localName](requestFor(method, missing))), `${kind} missing`).toBe('NotFound');
      }
    });
  }

  it('the RPCs without an id stay inside the caller’s workspace', async () => {
    const intruder = api.webhooks('connect-json-h1', keyA);
    expect((await intruder.listWebhooks({})).webhooks).toEqual([]);
    const mine = await intruder.createWebhook({ url: 'https://example.com/a', events: ['*'] });
    expect((await owner.listWebhooks({})).webhooks.map((w) => w.id)).toEqual([victim.id]);
    expect((await intruder.listWebhooks({})).webhooks.map((w) => w.id)).toEqual([mine.id]);
    // PublishEvent takes the workspace from the key, whatever the event names (auth.test.ts checks the
    // envelope): naming B's does not reach B's webhooks, so nothing new appears in B's deliveries.
    const published = await api.rest('POST', '/v1/events', keyA, { type: 'email.sent', data: {}, workspace: (await api.keys.verify(keyB))!.workspace });
    expect(published.status).toBe(200);
    const batch = await api.rest('POST', '/v1/events:batch', keyA, {
      events: [{ type: 'email.sent', data: {}, workspace: (await api.keys.verify(keyB))!.workspace }],
    });
    expect(batch.status).toBe(200);
    expect((await owner.listDeliveries({ webhookId: victim.id })).deliveries.map((d) => d.id)).toEqual([victimDelivery.id]);
  });

  it('B’s webhook and delivery are untouched after all that', async () => {
    const after = await owner.getWebhook({ id: victim.id });
    expect(after).toMatchObject({ description: 'B', url: 'https://example.com/b', status: victim.status });
    expect((await owner.getDelivery({ webhookId: victim.id, deliveryId: victimDelivery.id })).id).toBe(victimDelivery.id);
  });

  const routes = methods
    .filter(({ method }) => hasOption(method, http))
    .map(({ method }) => {
      const rule = getOption(method, http);
      const { case: verb, value } = rule.pattern;
      return { method, verb: String(verb).toUpperCase(), path: String(value), body: rule.body };
    });

  it('every REST route from the google.api.http annotations answers 404 for another workspace’s ids', async () => {
    expect(routes.length).toBeGreaterThanOrEqual(SERVICES.reduce((n, s) => n + s.methods.length, 0));
    for (const route of routes.filter((r) => /\{/.test(r.path))) {
      for (const ids of [foreign, missing]) {
        const path = route.path.replace(/\{([a-z_]+)\}/g, (_, name: string) => ids[ID_FIELDS[name] ?? 'webhook']);
        const res = await api.rest(route.verb, path, keyA, route.verb === 'GET' || route.verb === 'DELETE' ? undefined : {});
        expect(res.status, `${route.verb} ${path}`).toBe(404);
        expect(res.json.error.code, `${route.verb} ${path}`).toBe('not_found');
      }
    }
  });
});
