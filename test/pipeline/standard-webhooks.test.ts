import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { verifyWebhook } from '../../src/verify.js';
import { startTestApi } from '../helpers/api.js';
import { customerVerifies, startReceiver, type ReceivedRequest } from '../helpers/receiver.js';

// Deliveries checked with the official Standard Webhooks verifier, as a receiver would use it.
const api = await startTestApi('std-webhooks', { WEBHOOKS_RETRY_SCHEDULE: '1s,1s,1s,1s,1s' }, [...ALL_ROLES]);
const key = await api.newKey();

async function createWebhook(body: Record<string, unknown>, as = key) {
  const res = await api.rest('POST', '/v1/webhooks', as, body);
  expect(res.status, JSON.stringify(res.json)).toBeLessThan(300);
  return res.json as { id: string; signing_secret: string; signature_scheme: string };
}

/** Published once the webhooks just created or changed are seen (subscription changes apply within 1 s). */
async function publish(data: Record<string, unknown>) {
  await new Promise((resolve) => setTimeout(resolve, 600));
  const res = await api.rest('POST', '/v1/events', key, { type: 'email.received', data });
  expect(res.status, JSON.stringify(res.json)).toBeLessThan(300);
}

/** What `standardwebhooks` gives back for a request, or the error it throws. */
function officialVerify(secret: string, request: ReceivedRequest): unknown {
  try {
    return new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
  } catch (error) {
    return error;
  }
}

describe('Standard Webhooks signatures', () => {
  it('a webhook takes the scheme on create and update, shows it, and refuses an unknown one', async () => {
    // A workspace of its own, so these webhooks get none of the events published below.
    const key = await api.newKey();
    const plain = await createWebhook({ url: 'http://127.0.0.1:9/a', events: ['*'] }, key);
    expect(plain.signature_scheme).toBe('humiris');
    const standard = await createWebhook({ url: 'http://127.0.0.1:9/b', events: ['*'], signature_scheme: 'standard' }, key);
    expect(standard.signature_scheme).toBe('standard');
    expect((await api.rest('GET', `/v1/webhooks/${standard.id}`, key)).json.signature_scheme).toBe('standard');

    const updated = await api.rest('PATCH', `/v1/webhooks/${plain.id}`, key, { signature_scheme: 'both' });
    expect(updated.status).toBe(200);
    expect(updated.json.signature_scheme).toBe('both');
    // Leaving it out of an update keeps it.
    expect((await api.rest('PATCH', `/v1/webhooks/${plain.id}`, key, { description: 'x' })).json.signature_scheme).toBe('both');

    const bad = await api.rest('POST', '/v1/webhooks', key, { url: 'http://127.0.0.1:9/c', events: ['*'], signature_scheme: 'svix' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'invalid_argument', field: 'signature_scheme' });
    const badUpdate = await api.rest('PATCH', `/v1/webhooks/${plain.id}`, key, { signature_scheme: 'Standard' });
    expect(badUpdate.json.error).toMatchObject({ code: 'invalid_argument', field: 'signature_scheme' });
    // Empty is the default, as on create.
    expect((await api.rest('PATCH', `/v1/webhooks/${plain.id}`, key, { signature_scheme: '' })).json.signature_scheme).toBe('humiris');
  });

  it('"standard" deliveries verify with the official verifier; the retry keeps webhook-id and signs a new timestamp', async () => {
    const receiver = await startReceiver((_request, index) => ({ status: index === 0 ? 500 : 200 }));
    const hook = await createWebhook({ url: receiver.url, events: ['email.received'], signature_scheme: 'standard' });
    await publish({ n: 1, text: 'héllo' });
    const [first, retry] = await receiver.waitFor(2, 30_000);

    for (const request of [first!, retry!]) {
      expect(officialVerify(hook.signing_secret, request)).toEqual(request.json);
      expect(request.headers['x-humiris-signature']).toBeUndefined();
      expect(request.headers['webhook-id']).toBe(request.headers['x-humiris-delivery']);
      expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    }
    expect(retry!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(Number(retry!.headers['webhook-timestamp'])).toBeGreaterThan(Number(first!.headers['webhook-timestamp']));
    // Another secret, or a body changed on the way, is refused.
    const other = await createWebhook({ url: 'http://127.0.0.1:9/d', events: ['sms.sent'] });
    expect(officialVerify(other.signing_secret, first!)).toBeInstanceOf(Error);
    expect(officialVerify(hook.signing_secret, { ...first!, body: first!.body.replace('héllo', 'hello') })).toBeInstanceOf(Error);
  });

  it('"both" carries both signatures, each verifying; the default carries only X-Humiris-Signature', async () => {
    const [bothReceiver, plainReceiver] = [await startReceiver(), await startReceiver()];
    const both = await createWebhook({ url: bothReceiver.url, events: ['email.received'], signature_scheme: 'both' });
    const plain = await createWebhook({ url: plainReceiver.url, events: ['email.received'] });
    await publish({ n: 2 });
    const [[viaBoth], [viaPlain]] = await Promise.all([bothReceiver.waitFor(1), plainReceiver.waitFor(1)]);

    expect(officialVerify(both.signing_secret, viaBoth!)).toEqual(viaBoth!.json);
    expect(customerVerifies(String(viaBoth!.headers['x-humiris-signature']), viaBoth!.body, both.signing_secret)).toBe(true);
    expect(verifyWebhook(viaBoth!.body, viaBoth!.headers['x-humiris-signature'], both.signing_secret)).toBe(true);
    expect(viaBoth!.headers['webhook-timestamp']).toBe(/t=(\d+)/.exec(String(viaBoth!.headers['x-humiris-signature']))![1]);

    expect(customerVerifies(String(viaPlain!.headers['x-humiris-signature']), viaPlain!.body, plain.signing_secret)).toBe(true);
    expect(Object.keys(viaPlain!.headers).filter((h) => h.startsWith('webhook-'))).toEqual([]);
  });

  it('during a rotation the header carries both secrets, space-separated, and each verifies', async () => {
    const receiver = await startReceiver();
    const hook = await createWebhook({ url: receiver.url, events: ['email.received'], signature_scheme: 'standard' });
    const rotated = await api.rest('POST', `/v1/webhooks/${hook.id}/rotate-secret`, key, { expire_previous_in: '3600s' });
    expect(rotated.status).toBe(200);
    await publish({ n: 3 });
    const [request] = await receiver.waitFor(1);
    expect(String(request!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(officialVerify(rotated.json.signing_secret, request!)).toEqual(request!.json);
    expect(officialVerify(hook.signing_secret, request!)).toEqual(request!.json);
  });
});
