import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Uniformly random base62 text (rejection sampling keeps every character equally likely). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export function randomBase64Url(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

let lastTime = 0;
let counter = 0;

/**
 * A time-sortable id body: 10 chars of milliseconds (base62, fixed width) then a
 * per-process counter and randomness, so ids sort by creation time as strings.
 */
export function sortableId(now = Date.now()): string {
  if (now === lastTime) counter++;
  else {
    lastTime = now;
    counter = 0;
  }
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 62)) time = BASE62[t % 62] + time;
  let seq = '';
  for (let c = counter, i = 0; i < 3; i++, c = Math.floor(c / 62)) seq = BASE62[c % 62] + seq;
  return time + seq + randomBase62(11);
}

export const newWebhookId = (): string => `whk_${randomBase62(24)}`;
export const newDeliveryId = (now?: number): string => `dlv_${sortableId(now)}`;
export const newEventId = (): string => `evt_${sortableId()}`;
export const newOutcomeId = (): string => `out_${sortableId()}`;
export const newSigningSecret = (): string => `whsec_${randomBase64Url(32)}`;
export const newApiKeyId = (): string => `key_${randomBase62(16)}`;

export type ApiKeyMode = 'live' | 'test';
export const newApiKey = (mode: ApiKeyMode = 'live'): string => `hum_sk_${mode}_${randomBase62(40)}`;

export const ID_PATTERNS = {
  webhook: /^whk_[0-9A-Za-z]{24}$/,
  delivery: /^dlv_[0-9A-Za-z]{24}$/,
  apiKey: /^hum_sk_(live|test)_[0-9A-Za-z]{32,}$/,
} as const;
