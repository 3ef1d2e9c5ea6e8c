import { verifySignatureHeader, type VerifyOptions } from './domain/signing.js';

export type { VerifyOptions };

/**
 * For receivers: `import { verifyWebhook } from 'humiris-webhooks/verify'`.
 *
 * True when `signatureHeader` (the `X-Humiris-Signature` of the request) holds a `v1` made with
 * `secret` (the whole `whsec_…` string) over `<t>.<payload>`, and its `t` is within
 * `toleranceSeconds` (default 300) of now, before or after. Any of several `v1` values may match
 * (during a secret rotation there is one per live secret); each is compared in constant time.
 * `payload` must be the raw body as received, not JSON parsed and serialized again.
 */
export function verifyWebhook(
  payload: string | Uint8Array,
  signatureHeader: string | readonly string[] | null | undefined,
  secret: string,
  options: VerifyOptions = {},
): boolean {
  if (signatureHeader === null || signatureHeader === undefined || secret === '') return false;
  // Node gives a repeated header as an array; its values together are one list.
  const header = typeof signatureHeader === 'string' ? signatureHeader : signatureHeader.join(',');
  return verifySignatureHeader(header, payload, secret, options);
}
