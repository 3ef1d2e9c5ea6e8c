import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import { DomainError } from '../domain/errors.js';
import type { Logger } from '../log/logger.js';
import type { ApiKeyStore, Principal } from '../store/api-key-store.js';
import { toConnectError, toDomainError } from './errors.js';
import { ReadRefusedError, type ReadGate } from './read-gate.js';

/** Set by the auth interceptor; every WebhookService/EventService handler reads its workspace from it. */
const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'the verified API key' });

export function principalOf(context: HandlerContext): Principal {
  const principal = context.values.get(principalKey);
  // Only reachable if a service were registered without the auth interceptor.
  if (!principal) throw new DomainError('internal', 'no authenticated principal on this call');
  return principal;
}

/** One message for every failure: a caller learns nothing about which keys exist. */
const unauthenticated = () =>
  new DomainError('unauthenticated', 'a valid API key is required: send "Authorization: Bearer hum_sk_…"');

/**
 * Outermost: maps every error to a ConnectError in one place, and logs each call without
 * its headers (the API key must never reach a log line).
 */
export function errorAndLogInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const rpc = `${req.service.name}/${req.method.name}`;
    try {
      const res = await next(req);
      logger.debug({ rpc, ms: Math.round(performance.now() - started) }, 'rpc ok');
      return res;
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      if (error instanceof ConnectError) {
        // Already mapped (the auth interceptor, the Connect runtime, or a handler's own ConnectError).
        logger.debug({ rpc, ms, code: Code[error.code] }, 'rpc refused');
        throw error;
      }
      const domain = toDomainError(error);
      if (domain.code === 'internal' || domain.code === 'unavailable') {
        logger.error({ rpc, ms, code: domain.code, err: domain.cause ?? error }, 'rpc failed');
      } else {
        logger.debug({ rpc, ms, code: domain.code }, 'rpc refused');
      }
      throw toConnectError(error);
    }
  };
}

/** A fixed one-minute window per API key; kept in memory, so the limit applies per instance. */
export class RateLimiter {
  private windowStart = 0;
  private readonly counts = new Map<string, number>();

  constructor(private readonly perMinute: number) {}

  /** Seconds until the caller may try again, or 0 when the call is allowed. */
  take(keyId: string, now = Date.now()): number {
    if (this.perMinute <= 0) return 0;
    const window = Math.floor(now / 60_000) * 60_000;
    if (window !== this.windowStart) {
      this.windowStart = window;
      this.counts.clear();
    }
    const used = (this.counts.get(keyId) ?? 0) + 1;
    this.counts.set(keyId, used);
    return used > this.perMinute ? Math.max(1, Math.ceil((window + 60_000 - now) / 1000)) : 0;
  }
}

/** `Authorization: Bearer <key>` (gRPC: the `authorization` metadata) → the key's workspace. */
export function authInterceptor(keys: ApiKeyStore, limiter: RateLimiter): Interceptor {
  return (next) => async (req) => {
    const header = req.header.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const principal = match ? await keys.verify(match[1]!) : null;
    if (!principal) throw unauthenticated();
    const retryAfter = limiter.take(principal.keyId);
    if (retryAfter > 0) {
      const error = toConnectError(new DomainError('resource_exhausted', `rate limit exceeded: try again in ${retryAfter} s`));
      error.metadata.set('retry-after', String(retryAfter));
      throw error;
    }
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}

/**
 * After auth: the calls that scan on FerretDB (delivery reads, webhook lists) take a slot of the
 * read gate for their workspace, so one workspace's reads never take the store from the pipeline
 * (read-gate.ts).
 */
export function readGateInterceptor(gate: ReadGate, methods: ReadonlySet<string>): Interceptor {
  return (next) => async (req) => {
    if (!methods.has(req.method.name)) return next(req);
    const principal = req.contextValues.get(principalKey);
    if (!principal) throw unauthenticated();
    try {
      return await gate.run(principal.workspace, () => next(req), req.signal);
    } catch (error) {
      if (!(error instanceof ReadRefusedError)) throw error;
      const refused = toConnectError(error);
      refused.metadata.set('retry-after', String(error.retryAfterSeconds));
      throw refused;
    }
  };
}
