import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../domain/errors.js';
import { AddressNotPublicError, createAddressCheckingLookup, validateWebhookUrl } from './url-guard.js';

const resolvesTo =
  (...addresses: string[]) =>
  async (): Promise<string[]> =>
    addresses;
const publicDns = { allowPrivateUrls: false, lookup: resolvesTo('93.184.216.34') };

async function rejection(raw: unknown, options = publicDns): Promise<DomainError> {
  const error = await validateWebhookUrl(raw as string, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  const domainError = error as DomainError;
  expect(domainError.code).toBe('invalid_argument');
  expect(domainError.field).toBe('url');
  return domainError;
}

describe('validateWebhookUrl', () => {
  it('accepts a public https URL and returns it parsed', async () => {
    const url = await validateWebhookUrl('https://hooks.example.com:8443/in?x=1', publicDns);
    expect(url.href).toBe('https://hooks.example.com:8443/in?x=1');
  });

  it('accepts http and a public IP literal', async () => {
    expect((await validateWebhookUrl('http://93.184.216.34/hook', publicDns)).hostname).toBe('93.184.216.34');
    expect((await validateWebhookUrl('https://[2606:4700:4700::1111]/', publicDns)).hostname).toBe('[2606:4700:4700::1111]');
  });

  it.each([
    [undefined, 'required'],
    [42, 'required'],
    ['', 'required'],
    ['   ', 'required'],
    ['example.com/hook', 'absolute URL'],
    ['/hook', 'absolute URL'],
    ['https://', 'absolute URL'],
    ['ftp://example.com/', 'scheme must be https or http, not ftp'],
    ['javascript:alert(1)', 'scheme must be https or http'],
    ['file:///etc/passwd', 'scheme must be https or http'],
    ['https://user:pass@example.com/', 'credentials'],
    ['https://user@example.com/', 'credentials'],
    [`https://example.com/${'a'.repeat(2_100)}`, 'at most 2048'],
    ['https://example.com/a b', 'spaces, line breaks or control characters'],
    ['https://example.com/\r\nX-Injected: 1', 'spaces, line breaks or control characters'],
    ['https://example.com/%0d%0a\nX: 1', 'spaces, line breaks or control characters'],
    ['https://exa\tmple.com/', 'spaces, line breaks or control characters'],
    [' https://example.com/', 'spaces, line breaks or control characters'],
    ['https://example.com/\u0000', 'spaces, line breaks or control characters'],
    ['https://example.com/\u2028', 'spaces, line breaks or control characters'],
  ])('refuses %j (%s)', async (raw, message) => {
    expect((await rejection(raw)).message).toContain(message);
  });

  it.each([
    'http://127.0.0.1/',
    'http://2130706433/',
    'http://0177.0.0.1/',
    'http://0x7f.0.0.1/',
    'http://0x7f000001/',
    'http://127.1/',
    'http://１２７.０.０.１/',
    'http://10.0.0.1/',
    'http://172.16.5.4/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://100.64.0.1/',
    'http://0.0.0.0/',
    'http://[::1]/',
    'http://[::]/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[64:ff9b::10.0.0.1]/',
  ])('refuses the internal address %s', async (raw) => {
    const error = await rejection(raw);
    expect(error.message).toMatch(/is not a public address/);
    expect(error.retryable).toBe(false);
  });

  it.each([['10.0.0.1'], ['127.0.0.1'], ['169.254.169.254'], ['::1'], ['fd00::1'], ['::ffff:192.168.0.1'], ['93.184.216.34', '10.1.2.3']])(
    'refuses a name resolving to %s',
    async (...addresses) => {
      const error = await rejection('https://rebind.example.com/', { allowPrivateUrls: false, lookup: resolvesTo(...addresses) });
      expect(error.message).toContain('rebind.example.com resolves to');
      expect(error.message).toContain('not a public address');
    },
  );

  it('asks the resolver for the URL host name', async () => {
    const asked: string[] = [];
    await validateWebhookUrl('https://Hooks.Example.COM/x', {
      allowPrivateUrls: false,
      lookup: async (host) => (asked.push(host), ['93.184.216.34']),
    });
    expect(asked).toEqual(['hooks.example.com']);
  });

  it('refuses names that do not resolve, retryable only for a temporary resolver failure', async () => {
    const missing = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    const flaky = Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
    const notFound = await rejection('https://nope.example/', { allowPrivateUrls: false, lookup: () => Promise.reject(missing) });
    expect(notFound.message).toContain('could not be resolved');
    expect(notFound.retryable).toBe(false);
    const temporary = await rejection('https://nope.example/', { allowPrivateUrls: false, lookup: () => Promise.reject(flaky) });
    expect(temporary.retryable).toBe(true);
    expect((await rejection('https://empty.example/', { allowPrivateUrls: false, lookup: resolvesTo() })).message).toContain(
      'could not be resolved',
    );
  });

  it('uses the system resolver by default', async () => {
    expect((await rejection('http://localhost:8080/', { allowPrivateUrls: false } as typeof publicDns)).message).toContain(
      'not a public address',
    );
    expect((await rejection('https://no-such-host.invalid/', { allowPrivateUrls: false } as typeof publicDns)).message).toContain(
      'could not be resolved',
    );
  });

  it('allows private and unresolvable hosts when private URLs are allowed, but not malformed ones', async () => {
    const allow = { allowPrivateUrls: true, lookup: () => Promise.reject(new Error('must not be asked')) };
    expect((await validateWebhookUrl('http://127.0.0.1:3000/hook', allow)).port).toBe('3000');
    expect((await validateWebhookUrl('http://localhost/hook', allow)).hostname).toBe('localhost');
    expect((await validateWebhookUrl('http://no-such-host.invalid/', allow)).hostname).toBe('no-such-host.invalid');
    await rejection('ftp://127.0.0.1/', allow);
    await rejection('http://u:p@127.0.0.1/', allow);
    await rejection('http://127.0.0.1/\r\n', allow);
  });
});

describe('createAddressCheckingLookup', () => {
  const lookupOne = (allow: boolean, host: string) =>
    new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      createAddressCheckingLookup(allow)(host, {}, (error, address) => resolve({ error, address })),
    );
  const lookupAll = (allow: boolean, host: string) =>
    new Promise<{ error: NodeJS.ErrnoException | null; addresses: unknown }>((resolve) =>
      createAddressCheckingLookup(allow)(host, { all: true }, (error, addresses) => resolve({ error, addresses })),
    );

  it('refuses a host resolving to a non-public address, in both callback shapes', async () => {
    const one = await lookupOne(false, 'localhost');
    expect(one.error).toBeInstanceOf(AddressNotPublicError);
    expect(one.error?.message).toMatch(/^address (127\.0\.0\.1|::1) is not public$/);
    const all = await lookupAll(false, '127.0.0.1');
    expect(all.error?.message).toBe('address 127.0.0.1 is not public');
  });

  it('answers like dns.lookup when private addresses are allowed', async () => {
    const one = await lookupOne(true, '127.0.0.1');
    expect(one).toEqual({ error: null, address: '127.0.0.1' });
    const all = await lookupAll(true, '127.0.0.1');
    expect(all.error).toBeNull();
    expect(all.addresses as LookupAddress[]).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });

  it('passes resolver errors through', async () => {
    const { error } = await lookupOne(false, 'no-such-host.invalid');
    expect(error?.code).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });
});
