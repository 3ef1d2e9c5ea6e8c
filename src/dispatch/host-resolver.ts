import dns, { type LookupAddress } from 'node:dns';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Semaphore } from '../pipeline/semaphore.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface HostResolverOptions {
  /** DNS servers (`host` or `host:port`); the system's (/etc/resolv.conf) when absent. */
  servers?: string[];
  /** First wait for a DNS answer; each further try waits twice as long. */
  timeoutMs?: number;
  tries?: number;
  /** Longest an answer is reused, whatever its TTL says. */
  maxTtlMs?: number;
  /** How long a system lookup's answer (it carries no TTL) is reused. */
  systemTtlMs?: number;
  /** System lookups allowed at once: each holds a thread of libuv's pool (4 by default) while it runs. */
  systemLookups?: number;
  /** The hosts file, search domains and the like, for names DNS does not know. */
  systemLookup?: (host: string) => Promise<ResolvedAddress[]>;
  now?: () => number;
}

/** Resolution failed; `EAI_AGAIN` (may pass later) or `ENOTFOUND` (no such name), as dns.lookup reports. */
class HostResolutionError extends Error {
  constructor(
    readonly hostname: string,
    readonly code: 'EAI_AGAIN' | 'ENOTFOUND',
    detail: string,
  ) {
    super(`${hostname}: ${detail}`);
    this.name = 'HostResolutionError';
  }
}

/**
 * Quick answers that leave the system's own sources (hosts file, search domains) to ask: the name
 * is not in DNS, or no name server takes queries (a machine without one). A timeout or a server
 * failure is not among them: that is the slow case the system lookup would repeat.
 */
const ASK_SYSTEM = new Set(['ENOTFOUND', 'ENODATA', 'ECONNREFUSED', 'EREFUSED']);
const CACHE_LIMIT = 10_000;
/** How long the other family's answer is waited for once one family answered (RFC 8305 suggests 50 ms). */
const RESOLUTION_DELAY_MS = 50;

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

async function lookupWithSystem(host: string): Promise<ResolvedAddress[]> {
  const found = await dns.promises.lookup(host, { all: true, verbatim: true });
  return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
}

/**
 * Resolves webhook hosts without holding libuv's thread pool. `dns.lookup` runs getaddrinfo on
 * one of the pool's 4 threads until it returns, so a few hosts whose DNS never answers would
 * hold back every other host's connect (and the process's file and crypto work). Queries go
 * through c-ares on the event loop instead, with a bounded timeout, and answers are reused for
 * their TTL. `localhost` is the loopback address (RFC 6761). Only a name DNS does not know (or
 * every query refused) goes to the system lookup (hosts file, search domains), a few at a time.
 */
export class HostResolver {
  readonly #resolver: dns.promises.Resolver;
  readonly #options: Required<Pick<HostResolverOptions, 'maxTtlMs' | 'systemTtlMs' | 'systemLookup' | 'now'>>;
  readonly #cache = new Map<string, { addresses: ResolvedAddress[]; expiresAt: number }>();
  readonly #pending = new Map<string, Promise<ResolvedAddress[]>>();
  readonly #systemSlots: Semaphore;

  constructor(options: HostResolverOptions = {}) {
    const { servers, timeoutMs = 2_000, tries = 2, maxTtlMs = 60_000, systemTtlMs = 10_000, systemLookups = 2 } = options;
    for (const [name, value] of Object.entries({ timeoutMs, tries, maxTtlMs, systemTtlMs, systemLookups })) {
      if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive whole number, got ${value}`);
    }
    this.#resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries });
    if (servers) this.#resolver.setServers(servers);
    this.#systemSlots = new Semaphore(systemLookups);
    this.#options = { maxTtlMs, systemTtlMs, systemLookup: options.systemLookup ?? lookupWithSystem, now: options.now ?? Date.now };
  }

  /** Every address of the host, IPv4 first; throws a HostResolutionError. */
  async resolve(hostname: string): Promise<ResolvedAddress[]> {
    const host = hostname.toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1');
    const family = net.isIP(host);
    if (family !== 0) return [{ address: host, family: family as 4 | 6 }];
    if (host === 'localhost' || host.endsWith('.localhost')) {
      return [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ];
    }
    const cached = this.#cache.get(host);
    if (cached && cached.expiresAt > this.#options.now()) return cached.addresses;
    let pending = this.#pending.get(host);
    if (!pending) {
      pending = this.#query(host).finally(() => this.#pending.delete(host));
      this.#pending.set(host, pending);
    }
    return pending;
  }

  /** A `dns.lookup` for sockets (net.connect, undici's `connect.lookup`), answering in the shape asked for. */
  readonly lookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    this.resolve(hostname).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        const [first] = wanted;
        if (!first) return callback(new HostResolutionError(hostname, 'ENOTFOUND', `no IPv${options.family} address`), '');
        if (options.all) callback(null, wanted);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };

  async #query(host: string): Promise<ResolvedAddress[]> {
    // Each family's addresses, or the code it failed with.
    const ask = (query: Promise<dns.RecordWithTtl[]>, family: 4 | 6) =>
      query.then(
        (found) => ({ records: found.map(({ address, ttl }) => ({ address, family, ttl })), code: 'ENODATA' }),
        (error: NodeJS.ErrnoException) => ({ records: [], code: String(error.code) }),
      );
    const asked = [ask(this.#resolver.resolve4(host, { ttl: true }), 4), ask(this.#resolver.resolve6(host, { ttl: true }), 6)];
    // Once one family has addresses, the other gets Happy Eyeballs' resolution delay (RFC 8305),
    // not its whole timeout: some servers drop AAAA queries.
    const first = await Promise.race(asked);
    const late = () => ({ records: [], code: 'ENODATA' });
    const answers = await Promise.all(first.records.length > 0 ? asked.map((answer) => Promise.race([answer, sleep(RESOLUTION_DELAY_MS).then(late)])) : asked);
    const records = answers.flatMap((answer) => answer.records);
    if (records.length > 0) {
      const ttlMs = Math.min(...records.map((r) => r.ttl * 1000));
      return this.#remember(host, records.map(({ address, family }) => ({ address, family })), Math.max(1_000, ttlMs));
    }
    const codes = answers.map((answer) => answer.code);
    if (!codes.every((code) => ASK_SYSTEM.has(code))) {
      const code = codes.find((c) => !ASK_SYSTEM.has(c))!;
      throw new HostResolutionError(host, 'EAI_AGAIN', code === 'ETIMEOUT' ? 'DNS did not answer in time' : `DNS query failed (${code})`);
    }
    return this.#remember(host, await this.#fromSystem(host), this.#options.systemTtlMs);
  }

  async #fromSystem(host: string): Promise<ResolvedAddress[]> {
    await this.#systemSlots.acquire();
    try {
      const addresses = await this.#options.systemLookup(host);
      if (addresses.length === 0) throw new HostResolutionError(host, 'ENOTFOUND', 'no such host');
      return [...addresses.filter((a) => a.family === 4), ...addresses.filter((a) => a.family === 6)];
    } catch (error) {
      if (error instanceof HostResolutionError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new HostResolutionError(host, code === 'ENOTFOUND' ? 'ENOTFOUND' : 'EAI_AGAIN', code === 'ENOTFOUND' ? 'no such host' : `lookup failed (${code})`);
    } finally {
      this.#systemSlots.release();
    }
  }

  #remember(host: string, addresses: ResolvedAddress[], ttlMs: number): ResolvedAddress[] {
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.delete(host);
    this.#cache.set(host, { addresses, expiresAt: this.#options.now() + Math.min(ttlMs, this.#options.maxTtlMs) });
    return addresses;
  }
}

/** One per process: the API's URL checks and the sender's connects share its answers. */
export const defaultHostResolver = new HostResolver();
