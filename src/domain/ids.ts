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
 * `length` base62 characters named after `key` (its SHA-256 digest's bytes; a slight bias is
 * harmless: this is a name, not a secret): the same key, the same name, in every process.
 */
function nameOf(key: string, length: number): string {
  const digest = createHash('sha256').update(key).digest();
  let name = '';
  for (let i = 0; name.length < length; i++) name += BASE62[digest[i]! % 62];
  return name;
}

/** `value` as `width` base62 characters, fixed width, so that such texts sort as their values do. */
function fixedBase62(value: number, width: number): string {
  let text = '';
  for (let v = value, i = 0; i < width; i++, v = Math.floor(v / 62)) text = BASE62[v % 62] + text;
  return text;
}

/** Milliseconds as 10 base62 characters, so that ids sort by time as strings. */
const timeText = (ms: number): string => fixedBase62(ms, 10);

/**
 * A time-sortable id body: 10 chars of milliseconds (base62, fixed width) then a
 * per-process counter and randomness, so ids sort by creation time as strings.
 */
function sortableId(now = Date.now()): string {
  if (now === lastTime) counter++;
  else {
    lastTime = now;
    counter = 0;
    lastTimeText = timeText(now);
  }
  return lastTimeText + fixedBase62(counter, 3) + randomBase62(11);
}

export const newWebhookId = (): string => `whk_${randomBase62(24)}`;
export const newDeliveryId = (now?: number): string => `dlv_${sortableId(now)}`;
export const newEventId = (): string => `evt_${sortableId()}`;

/** Deliveries one pack document holds at most: the three base62 characters of packMemberId. */
export const PACK_MEMBERS_MAX = 62 ** 3;

/**
 * The id of a pack of deliveries (store/delivery-store.ts), named after `key` (what the pack is:
 * its event, record, part and shard) rather than drawn at random, so that every process that
 * matches the same record names the same pack; its hour is that of `createdAtMs`. It is a
 * delivery id without its last three characters.
 */
export const deliveryPackId = (createdAtMs: number, key: string): string => `dlv_${timeText(createdAtMs)}${nameOf(key, 11)}`;

/** The delivery id of member `index` of a pack: its pack's id and the index in three base62 characters. */
export function packMemberId(packId: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= PACK_MEMBERS_MAX) throw new RangeError(`a pack holds members 0 to ${PACK_MEMBERS_MAX - 1}, not ${index}`);
  return packId + fixedBase62(index, 3);
}

/** The pack a delivery id would belong to (any delivery id has one; only the store knows whether it is stored). */
export const packIdOf = (deliveryId: string): string => deliveryId.slice(0, -3);
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
export const recoveryId = (workspace: string, webhookId: string, sinceMs: number, untilMs: number | null): string =>
  `rcv_${nameOf(`${workspace}\u0000${webhookId}\u0000${sinceMs}\u0000${untilMs ?? 'open'}`, 24)}`;
export const newApiKeyId = (): string => `key_${randomBase62(16)}`;

export type ApiKeyMode = 'live' | 'test';
export const newApiKey = (mode: ApiKeyMode = 'live'): string => `hum_sk_${mode}_${randomBase62(40)}`;

export const ID_PATTERNS = {
  webhook: /^whk_[0-9A-Za-z]{24}$/,
  delivery: /^dlv_[0-9A-Za-z]{24}$/,
  recovery: /^rcv_[0-9A-Za-z]{24}$/,
  apiKey: /^hum_sk_(live|test)_[0-9A-Za-z]{32,}$/,
} as const;
