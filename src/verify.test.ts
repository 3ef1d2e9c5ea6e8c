import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureHeader } from './domain/signing.js';
import { verifyWebhook } from './verify.js';

const BODY = '{"id":"evt_1","type":"email.received","created_at":"2026-01-01T00:00:00Z","agent":null,"data":{"n":1}}';
const NEW = 'whsec_newnewnewnewnewnewnewnewnewnewnewnewnewn';
const OLD = 'whsec_oldoldoldoldoldoldoldoldoldoldoldoldoldo';
const T = 1_767_225_600;

// Made here with node:crypto, as the README describes the signature, not with the sender's code.
const v1 = (secret: string, t: number, body: string) => createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

describe('verifyWebhook', () => {
  const rotated = `t=${T},v1=${v1(NEW, T, BODY)},v1=${v1(OLD, T, BODY)}`;

  it('accepts a header of several v1 values with either secret, and what the sender signs', () => {
    expect(verifyWebhook(BODY, rotated, NEW, { now: T })).toBe(true);
    expect(verifyWebhook(BODY, rotated, OLD, { now: T })).toBe(true);
    expect(verifyWebhook(BODY, signatureHeader(BODY, [NEW, OLD], T), OLD, { now: T })).toBe(true);
    expect(verifyWebhook(BODY, rotated, 'whsec_another', { now: T })).toBe(false);
  });

  it('takes the raw body as bytes too, and a repeated header as Node gives it', () => {
    expect(verifyWebhook(Buffer.from(BODY), rotated, NEW, { now: T })).toBe(true);
    expect(verifyWebhook(new TextEncoder().encode(BODY), rotated, NEW, { now: T })).toBe(true);
    expect(verifyWebhook(BODY, [`t=${T}`, `v1=${v1(NEW, T, BODY)}`], NEW, { now: T })).toBe(true);
  });

  it('rejects a changed body or timestamp', () => {
    expect(verifyWebhook(BODY.replace('"n":1', '"n":2'), rotated, NEW, { now: T })).toBe(false);
    expect(verifyWebhook(`${BODY} `, rotated, NEW, { now: T })).toBe(false);
    expect(verifyWebhook(BODY, rotated.replace(`t=${T}`, `t=${T + 1}`), NEW, { now: T })).toBe(false);
  });

  it('rejects a timestamp older than the tolerance (default 300 s), and one as far in the future', () => {
    expect(verifyWebhook(BODY, rotated, NEW, { now: T + 300 })).toBe(true);
    expect(verifyWebhook(BODY, rotated, NEW, { now: T + 301 })).toBe(false);
    expect(verifyWebhook(BODY, rotated, NEW, { now: T - 300 })).toBe(true);
    expect(verifyWebhook(BODY, rotated, NEW, { now: T - 301 })).toBe(false);
    expect(verifyWebhook(BODY, rotated, NEW, { now: T + 3_600, toleranceSeconds: 3_600 })).toBe(true);
    expect(verifyWebhook(BODY, rotated, NEW, { now: T + 11, toleranceSeconds: 10 })).toBe(false);
    expect(() => verifyWebhook(BODY, rotated, NEW, { toleranceSeconds: -1 })).toThrow(RangeError);
  });

  it('uses the clock by default', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verifyWebhook(BODY, `t=${now},v1=${v1(NEW, now, BODY)}`, NEW)).toBe(true);
    expect(verifyWebhook(BODY, rotated, NEW)).toBe(false);
  });

  it.each([undefined, null, '', 'garbage', `v1=${v1(NEW, T, BODY)}`, `t=${T}`, `t=${T},v1=`, `t=${T},v1=${v1(NEW, T, BODY).toUpperCase()}`, `t=${T}.5,v1=${v1(NEW, T, BODY)}`])(
    'rejects the header %j',
    (header) => {
      expect(verifyWebhook(BODY, header, NEW, { now: T })).toBe(false);
    },
  );

  it('rejects an empty secret', () => {
    expect(verifyWebhook(BODY, `t=${T},v1=${v1('', T, BODY)}`, '', { now: T })).toBe(false);
  });
});
