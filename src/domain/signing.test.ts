import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { newSigningSecret } from './ids.js';
import {
  activeSecrets,
  signatureHeader,
  signatureHeaders,
  standardSignatureHeader,
  standardWebhooksKey,
  verifyStandardSignature,
  verifySignatureHeader,
} from './signing.js';

const BODY = '{"id":"evt_1","type":"email.received","created_at":"2025-01-01T00:00:00Z","agent":null,"data":{}}';
const NEW = 'whsec_newsecretnewsecretnewsecret00';
const OLD = 'whsec_oldsecretoldsecretoldsecret00';
const T = 1_735_689_600;

// Computed here directly with node:crypto, independent of the module under test.
const expectedHex = (secret: string, t: number, body: string) =>
  createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

describe('signatureHeader', () => {
  it('matches a known vector', () => {
    // Fixed vector: HMAC-SHA256(key "whsec_test", "1700000000.hello"), also checked with `openssl dgst -hmac`.
    const vector = '457c4d31b232d95fcd50f1d95021aaaffddd859d0ee8a206675e84ccc977431d';
    expect(expectedHex('whsec_test', 1_700_000_000, 'hello')).toBe(vector);
    expect(signatureHeader('hello', ['whsec_test'], 1_700_000_000)).toBe(`t=1700000000,v1=${vector}`);
  });

  it('uses the whole secret, prefix included, as the key', () => {
    const header = signatureHeader(BODY, [NEW], T);
    expect(header).toBe(`t=${T},v1=${expectedHex(NEW, T, BODY)}`);
    expect(header).not.toContain(expectedHex(NEW.slice('whsec_'.length), T, BODY));
  });

  it('carries one v1 per secret, newest first', () => {
    expect(signatureHeader(BODY, [NEW, OLD], T)).toBe(`t=${T},v1=${expectedHex(NEW, T, BODY)},v1=${expectedHex(OLD, T, BODY)}`);
  });

  it('refuses no secrets or a non-integer timestamp', () => {
    expect(() => signatureHeader(BODY, [], T)).toThrow(RangeError);
    expect(() => signatureHeader(BODY, [NEW], 1.5)).toThrow(RangeError);
  });
});

describe('verifySignatureHeader', () => {
  const rotated = signatureHeader(BODY, [NEW, OLD], T);

  it('accepts either secret during a rotation', () => {
    expect(verifySignatureHeader(rotated, BODY, NEW, { now: T })).toBe(true);
    expect(verifySignatureHeader(rotated, BODY, OLD, { now: T })).toBe(true);
    expect(verifySignatureHeader(rotated, BODY, 'whsec_other', { now: T })).toBe(false);
  });

  it('rejects a tampered body', () => {
    expect(verifySignatureHeader(rotated, BODY.replace('evt_1', 'evt_2'), NEW, { now: T })).toBe(false);
  });

  it('rejects a tampered timestamp', () => {
    expect(verifySignatureHeader(rotated.replace(`t=${T}`, `t=${T + 1}`), BODY, NEW, { now: T })).toBe(false);
  });

  it('applies the tolerance (default 300 s) both ways', () => {
    expect(verifySignatureHeader(rotated, BODY, NEW, { now: T + 300 })).toBe(true);
    expect(verifySignatureHeader(rotated, BODY, NEW, { now: T + 301 })).toBe(false);
    expect(verifySignatureHeader(rotated, BODY, NEW, { now: T - 301 })).toBe(false);
    expect(verifySignatureHeader(rotated, BODY, NEW, { now: T + 1000, toleranceSeconds: 1000 })).toBe(true);
  });

  it('uses the clock by default', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verifySignatureHeader(signatureHeader(BODY, [NEW], now), BODY, NEW)).toBe(true);
    expect(verifySignatureHeader(rotated, BODY, NEW)).toBe(false);
  });

  it.each(['', 'garbage', `v1=${expectedHex(NEW, T, BODY)}`, `t=abc,v1=${expectedHex(NEW, T, BODY)}`, `t=${T},v1=`, `t=${T},v1=zz`])(
    'rejects malformed header %j',
    (header) => {
      expect(verifySignatureHeader(header, BODY, NEW, { now: T })).toBe(false);
    },
  );
});

describe('Standard Webhooks', () => {
  // The example of the Standard Webhooks libraries' own tests and docs.
  const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const MSG_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const PAYLOAD = '{"test": 2432232314}';

  it('matches the published vector', () => {
    expect(standardSignatureHeader(MSG_ID, PAYLOAD, [SECRET], 1_614_265_330)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verifies the published vector, any of several signatures, within the tolerance only', () => {
    const signature = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
    const at = { id: MSG_ID, timestamp: '1614265330', signature: `v1,bm90IHRoaXMgb25l ${signature}` };
    expect(verifyStandardSignature(at, PAYLOAD, SECRET, { now: 1_614_265_330 })).toBe(true);
    expect(verifyStandardSignature(at, `${PAYLOAD} `, SECRET, { now: 1_614_265_330 })).toBe(false);
    expect(verifyStandardSignature(at, PAYLOAD, SECRET, { now: 1_614_265_331 + 300 })).toBe(false);
    expect(verifyStandardSignature({ ...at, id: 'msg.dotted' }, PAYLOAD, SECRET, { now: 1_614_265_330 })).toBe(false);
  });

  it('keys the HMAC with the base64-decoded text after whsec_', () => {
    expect(standardWebhooksKey(SECRET)).toEqual(Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'));
    // Secrets of earlier versions (base64url) decode to the bytes they were made from.
    const bytes = Buffer.from('fb3ffe00ff', 'hex');
    expect(standardWebhooksKey(`whsec_${bytes.toString('base64url')}`)).toEqual(bytes);
    expect(() => standardWebhooksKey('whsec_')).toThrow(RangeError);
  });

  it('new secrets are canonical standard base64 after whsec_, which every official library decodes', () => {
    for (let i = 0; i < 200; i++) {
      const secret = newSigningSecret();
      const key = standardWebhooksKey(secret);
      expect(key).toHaveLength(33);
      // Re-encoding gives the same text: strict decoders (Go's StdEncoding, Python's b64decode) take it too.
      expect(`whsec_${key.toString('base64')}`).toBe(secret);
      expect(() => new Webhook(secret)).not.toThrow();
    }
  });

  it('is verified by the official standardwebhooks library with a new secret, newest secret first', () => {
    const now = Math.floor(Date.now() / 1000);
    const current = newSigningSecret();
    const previous = newSigningSecret();
    const headers = signatureHeaders('standard', { id: 'dlv_1', body: BODY, secrets: [current, previous], timestampSeconds: now });
    expect(Object.keys(headers).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    expect(headers['webhook-id']).toBe('dlv_1');
    expect(headers['webhook-timestamp']).toBe(String(now));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}= v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(current).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(new Webhook(previous).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(() => new Webhook(newSigningSecret()).verify(BODY, headers)).toThrow(/No matching signature/);
    expect(() => new Webhook(current).verify(BODY.replace('evt_1', 'evt_2'), headers)).toThrow(/No matching signature/);
  });

  it('sends the headers of the scheme asked for', () => {
    const message = { id: 'dlv_1', body: BODY, secrets: [NEW], timestampSeconds: T };
    expect(signatureHeaders('humiris', message)).toEqual({ 'x-humiris-signature': signatureHeader(BODY, [NEW], T) });
    const both = signatureHeaders('both', message);
    expect(both).toEqual({ ...signatureHeaders('humiris', message), ...signatureHeaders('standard', message) });
    expect(Object.keys(both)).toHaveLength(4);
  });

  it('refuses a message id with a dot, no secrets or a bad timestamp', () => {
    expect(() => standardSignatureHeader('dlv.1', BODY, [NEW], T)).toThrow(RangeError);
    expect(() => standardSignatureHeader('', BODY, [NEW], T)).toThrow(RangeError);
    expect(() => standardSignatureHeader('dlv_1', BODY, [], T)).toThrow(RangeError);
    expect(() => standardSignatureHeader('dlv_1', BODY, [NEW], -1)).toThrow(RangeError);
  });
});

describe('activeSecrets', () => {
  const now = new Date('2025-01-01T00:00:00Z');
  it('keeps current and unexpired secrets in order, drops expired ones', () => {
    const secrets = [
      { secret: 'whsec_a', expiresAt: null },
      { secret: 'whsec_b', expiresAt: new Date(now.getTime() + 1) },
      { secret: 'whsec_c', expiresAt: new Date(now.getTime()) },
      { secret: 'whsec_d', expiresAt: new Date(now.getTime() - 1000) },
    ];
    expect(activeSecrets(secrets, now)).toEqual(['whsec_a', 'whsec_b']);
    expect(activeSecrets([], now)).toEqual([]);
  });
});
