import { createHmac, timingSafeEqual } from 'node:crypto';

/** The part of a stored signing secret that decides whether it still signs. */
export interface SecretWithExpiry {
  secret: string;
  /** null for the current secret; a rotated-out secret keeps signing until this instant. */
  expiresAt: Date | null;
}

/** Which signature headers a webhook's deliveries carry. */
export type SignatureScheme = 'humiris' | 'standard' | 'both';
export const SIGNATURE_SCHEMES: readonly SignatureScheme[] = ['humiris', 'standard', 'both'];

const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;
const SECRET_PREFIX = 'whsec_';

/**
 * HMAC-SHA256 keyed by the whole `whsec_…` string, over `<t>.<body>`, as our docs tell customers.
 * A verifier passes the header's timestamp text as is, so it signs exactly what it received.
 */
function sign(secret: string, timestampSeconds: number | string, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');
}

function checkSigningInput(secrets: string[], timestampSeconds: number): void {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError('timestampSeconds must be a non-negative whole number of seconds');
  }
  if (secrets.length === 0) throw new RangeError('at least one signing secret is needed');
}

/** `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, one v1 per secret in the order given (newest first). */
export function signatureHeader(body: string, secrets: string[], timestampSeconds: number): string {
  checkSigningInput(secrets, timestampSeconds);
  return [`t=${timestampSeconds}`, ...secrets.map((secret) => `v1=${sign(secret, timestampSeconds, body)}`)].join(',');
}

/**
 * The Standard Webhooks key: the text after `whsec_`, base64-decoded, as the official libraries
 * read it. Secrets made before they were base64 of the standard alphabet (base64url, 43
 * characters) decode to the same bytes here; the official libraries refuse their `-` and `_`.
 */
export function standardWebhooksKey(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  if (key.length === 0) throw new RangeError('a Standard Webhooks secret must be base64 after "whsec_"');
  return key;
}

/**
 * Standard Webhooks `webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<t>.<body>">` per secret,
 * space-separated, newest first. The id must hold no `.` (delivery ids never do).
 */
export function standardSignatureHeader(id: string, body: string, secrets: string[], timestampSeconds: number): string {
  checkSigningInput(secrets, timestampSeconds);
  if (id === '' || id.includes('.')) throw new RangeError('a Standard Webhooks message id must be non-empty and hold no "."');
  return secrets
    .map((secret) => `v1,${createHmac('sha256', standardWebhooksKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`)
    .join(' ');
}

export interface SignedMessage {
  /** The delivery id: `X-Humiris-Delivery`, and `webhook-id` under Standard Webhooks. */
  id: string;
  body: string;
  /** Newest first. */
  secrets: string[];
  timestampSeconds: number;
}

/** The signature headers of one request under a scheme: `X-Humiris-Signature`, the three `webhook-*`, or all four. */
export function signatureHeaders(scheme: SignatureScheme, { id, body, secrets, timestampSeconds }: SignedMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  if (scheme !== 'standard') headers['x-humiris-signature'] = signatureHeader(body, secrets, timestampSeconds);
  if (scheme !== 'humiris') {
    headers['webhook-id'] = id;
    headers['webhook-timestamp'] = String(timestampSeconds);
    headers['webhook-signature'] = standardSignatureHeader(id, body, secrets, timestampSeconds);
  }
  return headers;
}

export interface VerifyOptions {
  /** Largest accepted distance between the header's timestamp and now; default 300. */
  toleranceSeconds?: number;
  /** Current time in unix seconds; defaults to the clock. */
  now?: number;
}

/**
 * The check a receiver writes from our public docs: split on `,`, strip `t=`/`v1=`, HMAC
 * `timestamp + "." + payload`, compare in constant time. Any matching v1 is accepted, so a
 * receiver holding either secret of a rotation verifies.
 */
export function verifySignatureHeader(header: string, body: string | Uint8Array, secret: string, options: VerifyOptions = {}): boolean {
  let timestamp = '';
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const item = part.trim();
    if (item.startsWith('t=')) timestamp = item.slice(2);
    else if (item.startsWith('v1=')) signatures.push(item.slice(3));
  }
  return withinTolerance(timestamp, options) && anyMatches(signatures, sign(secret, timestamp, body));
}

/**
 * Standard Webhooks: true when one of the space-separated `v1,<base64>` of `webhook-signature`
 * was made with `secret` over `<webhook-id>.<webhook-timestamp>.<body>`, within the tolerance.
 */
export function verifyStandardSignature(
  { id, timestamp, signature }: { id: string; timestamp: string; signature: string },
  body: string,
  secret: string,
  options: VerifyOptions = {},
): boolean {
  if (!withinTolerance(timestamp, options)) return false;
  let expected: string;
  try {
    expected = standardSignatureHeader(id, body, [secret], Number(timestamp));
  } catch {
    return false; // an id or secret no signature can be made with
  }
  return anyMatches(signature.split(' '), expected);
}

/** A whole number of seconds no further than the tolerance from now, before or after. */
function withinTolerance(timestamp: string, options: VerifyOptions): boolean {
  const tolerance = options.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (!(tolerance >= 0)) throw new RangeError('toleranceSeconds must be a non-negative number');
  const now = options.now ?? Math.floor(Date.now() / 1000);
  return /^\d+$/.test(timestamp) && Math.abs(now - Number(timestamp)) <= tolerance;
}

/** Constant-time comparison of each candidate with the expected signature. */
function anyMatches(candidates: string[], expected: string): boolean {
  const want = Buffer.from(expected);
  return candidates.some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === want.length && timingSafeEqual(given, want);
  });
}

/** The secrets that still sign at `now` (current one, plus rotated ones inside their overlap), order kept. */
export function activeSecrets(secrets: SecretWithExpiry[], now: Date): string[] {
  return secrets.filter((s) => s.expiresAt === null || s.expiresAt.getTime() > now.getTime()).map((s) => s.secret);
}
