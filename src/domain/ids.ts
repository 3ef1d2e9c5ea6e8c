import { createHash, randomFillSync } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// Ids are made per delivery and per outcome; one randomBytes call (a new Buffer) per id cost ~10x
// the id itself, so bytes come from a pool refilled in place. Each byte is used once.
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

/** Uniformly random base62 text (rejection sampling keeps every character equally likely). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    if (byte < 248) out += BASE62[byte % 62];
  }
  return out;
}

let lastTime = -1;
let lastTimeText = '';
let counter = 0;

/**
 * A time-sortable id body: 10 chars of milliseconds (base62, fixed width) then a
 * per-process counter and randomness, so ids sort by creation time as strings.
 */
function sortableId(now = Date.now()): string {
  if (now === lastTime) counter++;
  else {
    lastTime = now;
    counter = 0;
    lastTimeText = '';
    for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 62)) lastTimeText = BASE62[t % 62] + lastTimeText;
  }
  let seq = '';
  for (let c = counter, i = 0; i < 3; i++, c = Math.floor(c / 62)) seq = BASE62[c % 62] + seq;
  return lastTimeText + seq + randomBase62(11);
}

export const newWebhookId = (): string => `whk_${randomBase62(24)}`;
export const newDeliveryId = (now?: number): string => `dlv_${sortableId(now)}`;
export const newEventId = (): string => `evt_${sortableId()}`;
export const newOutcomeId = (): string => `out_${sortableId()}`;
export const newHealthRecordId = (): string => `hst_${sortableId()}`;
/**
 * 44 random base62 characters (262 bits): also standard base64 of 33 bytes with no padding, so
 * the Standard Webhooks libraries, which base64-decode what follows `whsec_`, take it as it is.
 */
export const newSigningSecret = (): string => `whsec_${randomBase62(44)}`;
/**
 * A bulk recovery's id, named after what it recovers (workspace, webhook and window) rather than
 * drawn at random: asking again for the same window finds the same job by its `_id`.
 */
export function recoveryId(workspace: string, webhookId: string, sinceMs: number, untilMs: number | null): string {
  const digest = createHash('sha256').update(`${workspace}\u0000${webhookId}\u0000${sinceMs}\u0000${untilMs ?? 'open'}`).digest();
  let body = '';
  // 24 base62 characters from the digest's bytes (a slight bias is harmless: this is a name, not a secret).
  for (let i = 0; body.length < 24; i++) body += BASE62[digest[i]! % 62];
  return `rcv_${body}`;
}
export const newApiKeyId = (): string => `key_${randomBase62(16)}`;

export type ApiKeyMode = 'live' | 'test';
export const newApiKey = (mode: ApiKeyMode = 'live'): string => `hum_sk_${mode}_${randomBase62(40)}`;

export const ID_PATTERNS = {
  webhook: /^whk_[0-9A-Za-z]{24}$/,
  delivery: /^dlv_[0-9A-Za-z]{24}$/,
  recovery: /^rcv_[0-9A-Za-z]{24}$/,
  apiKey: /^hum_sk_(live|test)_[0-9A-Za-z]{32,}$/,
} as const;
