import type { LookupAddress, LookupOptions } from 'node:dns';
import { isPublicAddress, parseIpLiteral } from '../domain/address-policy.js';
import { DomainError } from '../domain/errors.js';
import { defaultHostResolver, type HostResolver } from './host-resolver.js';

const MAX_WEBHOOK_URL_LENGTH = 2_048;

export interface UrlGuardOptions {
  /** Local development: private, loopback and unresolvable hosts are accepted. */
  allowPrivateUrls: boolean;
  /** Every address the host resolves to; defaults to all its A and AAAA records (dispatch/host-resolver.ts). */
  lookup?: (host: string) => Promise<string[]>;
}

const invalidUrl = (message: string, retryable = false): DomainError =>
  new DomainError('invalid_argument', message, { field: 'url', retryable });

async function addressesOf(host: string): Promise<string[]> {
  return (await defaultHostResolver.resolve(host)).map((r) => r.address);
}

// C0/C1 controls and any Unicode whitespace: the URL parser would silently strip or keep them,
// and a CR/LF must never reach a request line or a header.
const CONTROL_OR_SPACE = /[\u0000-\u001f\u007f-\u009f\s]/u;

/**
 * Checks a webhook URL given to the API (create/update) and returns it parsed. Throws an
 * `invalid_argument` DomainError on `url` saying what to change. Unless private URLs are
 * allowed, the host must be a public IP address or a name all of whose addresses are public.
 */
export async function validateWebhookUrl(raw: string, options: UrlGuardOptions): Promise<URL> {
  if (typeof raw !== 'string' || raw.trim() === '') throw invalidUrl('url is required: give the https:// address of your endpoint');
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) {
    throw invalidUrl(`url is ${raw.length} characters long; use at most ${MAX_WEBHOOK_URL_LENGTH}`);
  }
  if (CONTROL_OR_SPACE.test(raw)) {
    throw invalidUrl('url must not contain spaces, line breaks or control characters; percent-encode them');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidUrl('url must be an absolute URL such as https://example.com/webhooks');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidUrl(`url scheme must be https or http, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw invalidUrl('url must not contain credentials (user:password@); authenticate with the signature header instead');
  }
  if (url.hostname === '') throw invalidUrl('url must name a host');
  if (options.allowPrivateUrls) return url;

  const literal = parseIpLiteral(url.hostname);
  if (literal !== null) {
    if (!isPublicAddress(literal)) {
      throw invalidUrl(`url host ${url.hostname} is not a public address; use a publicly reachable host`);
    }
    return url;
  }

  let addresses: string[];
  try {
    addresses = await (options.lookup ?? addressesOf)(url.hostname);
  } catch (error) {
    // A resolver hiccup may pass on a second try; a name that does not exist will not.
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    throw invalidUrl(`url host ${url.hostname} could not be resolved; check the host name`, code === 'EAI_AGAIN');
  }
  if (addresses.length === 0) throw invalidUrl(`url host ${url.hostname} could not be resolved; check the host name`);
  const internal = addresses.find((address) => !isPublicAddress(address));
  if (internal !== undefined) {
    throw invalidUrl(`url host ${url.hostname} resolves to ${internal}, which is not a public address; use a publicly reachable host`);
  }
  return url;
}

/** The error a send fails with when the destination is not public; its message is shown as the attempt's error. */
export class AddressNotPublicError extends Error {
  readonly code = 'ERR_ADDRESS_NOT_PUBLIC';

  constructor(readonly address: string) {
    super(`address ${address} is not public`);
    this.name = 'AddressNotPublicError';
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
export type LookupFunction = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/**
 * A `dns.lookup` replacement for the HTTP client's sockets (undici `connect: { lookup }`): it
 * resolves without holding libuv's thread pool (dispatch/host-resolver.ts), then refuses when any
 * address it would connect to is not public. This re-checks at send time what the API checked at
 * create time, so DNS rebinding cannot reach internal hosts.
 */
export function createAddressCheckingLookup(allowPrivate: boolean, resolver: HostResolver = defaultHostResolver): LookupFunction {
  return (hostname, options, callback) => {
    const done = (error: NodeJS.ErrnoException | null, result: string | LookupAddress[], family?: number) => {
      if (error || allowPrivate) return callback(error, result, family);
      const addresses = typeof result === 'string' ? [result] : result.map((r) => r.address);
      const internal = addresses.find((address) => !isPublicAddress(address));
      if (internal !== undefined) return callback(new AddressNotPublicError(internal), result, family);
      callback(null, result, family);
    };
    // Node asks for one address or for all of them (autoSelectFamily); answer in the same shape.
    resolver.lookup(hostname, options, done);
  };
}
