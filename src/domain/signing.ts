import { createHmac, timingSafeEqual } from 'node:crypto';

/** The part of a stored signing secret that decides whether it still signs. */
export interface SecretWithExpiry {
  secret: string;
  /** null for the current secret; a rotated-out secret keeps signing until this instant. */
  expiresAt: Date | null;
}

const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * HMAC-SHA256 keyed by the whole `whsec_…` string, over `<t>.<body>`, as our docs tell customers.
 * A verifier passes the header's timestamp text as is, so it signs exactly what it received.
 */
function sign(secret: string, timestampSeconds: number | string, body: string): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
}

/** `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, one v1 per secret in the order given (newest first). */
export function signatureHeader(body: string, secrets: string[], timestampSeconds: number): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError('timestampSeconds must be a non-negative whole number of seconds');
  }
  if (secrets.length === 0) throw new RangeError('at least one signing secret is needed');
  return [`t=${timestampSeconds}`, ...secrets.map((secret) => `v1=${sign(secret, timestampSeconds, body)}`)].join(',');
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
export function verifySignatureHeader(header: string, body: string, secret: string, options: VerifyOptions = {}): boolean {
  const tolerance = options.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  let timestamp = '';
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const item = part.trim();
    if (item.startsWith('t=')) timestamp = item.slice(2);
    else if (item.startsWith('v1=')) signatures.push(item.slice(3));
  }
  if (!/^\d+$/.test(timestamp)) return false;
  const t = Number(timestamp);
  if (Math.abs(now - t) > tolerance) return false;
  const expected = Buffer.from(sign(secret, timestamp, body));
  return signatures.some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** The secrets that still sign at `now` (current one, plus rotated ones inside their overlap), order kept. */
export function activeSecrets(secrets: SecretWithExpiry[], now: Date): string[] {
  return secrets.filter((s) => s.expiresAt === null || s.expiresAt.getTime() > now.getTime()).map((s) => s.secret);
}
