import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { activeSecrets, signatureHeader, verifySignatureHeader } from './signing.js';

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
