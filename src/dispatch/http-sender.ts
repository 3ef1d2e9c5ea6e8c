import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { Agent, type Dispatcher } from 'undici';
import { isPublicAddress, parseIpLiteral } from '../domain/address-policy.js';
import type { Sender, SendRequest, SendResult } from '../pipeline/ports.js';
import { AddressNotPublicError, createAddressCheckingLookup } from './url-guard.js';
import type { HostResolver } from './host-resolver.js';
import { parseRetryAfter, RETRY_AFTER_STATUSES } from './retry-after.js';

/** Most of a response body we read; a larger body is a failed attempt and the rest is never read. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** What an attempt record keeps of the response body. */
export const BODY_EXCERPT_BYTES = 1024;

export interface HttpSenderOptions {
  /**
   * One deadline for connect, headers and body, counted from the start of the attempt. A response
   * whose last byte had arrived by then counts, even if the process was too busy to read it at once.
   */
  timeoutMs: number;
  allowPrivateUrls: boolean;
  userAgent: string;
  /** Sockets per origin; unlimited when absent (in-flight sends are bounded by the dispatcher). */
  maxConnectionsPerOrigin?: number;
  /** Where hosts are resolved; the process's shared resolver when absent. */
  resolver?: HostResolver;
}

/** Why the attempt did not reach the receiver, from the error a request failed with. */
function describeFailure(error: unknown): string {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = String((e as NodeJS.ErrnoException).code ?? '');
    if (code === 'ERR_ADDRESS_NOT_PUBLIC') return e.message;
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection reset';
    if (code === 'UND_ERR_SOCKET') return `connection reset: ${e.message}`;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `could not resolve host: ${e.message}`;
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `host unreachable: ${e.message}`;
    if (/^(ERR_SSL_|ERR_TLS_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_|EPROTO$)/.test(code)) {
      // OpenSSL's `reason` is the readable part of its multi-field message.
      return `TLS error: ${(e as Error & { reason?: string }).reason ?? e.message}`;
    }
    if (e.name === 'HTTPParserError' || code.startsWith('HPE_') || code === 'UND_ERR_HEADERS_OVERFLOW' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      return `invalid HTTP response: ${e.message}`;
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return `request failed: ${message}`;
}

/**
 * Sends webhook requests through one pooled keep-alive client. `send` never throws for anything
 * the network or the receiver does: each outcome is a SendResult with a readable `error`.
 */
export class HttpSender implements Sender {
  readonly #options: Required<Omit<HttpSenderOptions, 'maxConnectionsPerOrigin' | 'resolver'>>;
  readonly #agent: Agent;

  constructor(options: HttpSenderOptions) {
    const { timeoutMs, allowPrivateUrls, userAgent, maxConnectionsPerOrigin, resolver } = options;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be a positive whole number, got ${timeoutMs}`);
    if (typeof allowPrivateUrls !== 'boolean') throw new TypeError('allowPrivateUrls must be true or false');
    if (typeof userAgent !== 'string' || userAgent.trim() === '' || /[\r\n]/.test(userAgent)) {
      throw new RangeError('userAgent must be a non-empty single line');
    }
    if (maxConnectionsPerOrigin !== undefined && (!Number.isSafeInteger(maxConnectionsPerOrigin) || maxConnectionsPerOrigin <= 0)) {
      throw new RangeError(`maxConnectionsPerOrigin must be a positive whole number, got ${maxConnectionsPerOrigin}`);
    }
    this.#options = { timeoutMs, allowPrivateUrls, userAgent };
    this.#agent = new Agent({
      pipelining: 1,
      connections: maxConnectionsPerOrigin ?? null,
      // Our own deadline covers the whole exchange; undici's timers only back it up, later, so they
      // never cut an answer that our deadline lets through.
      headersTimeout: 2 * timeoutMs,
      bodyTimeout: 2 * timeoutMs,
      connect: { timeout: 2 * timeoutMs, lookup: createAddressCheckingLookup(allowPrivateUrls, resolver) },
    });
  }

  async send(request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const result = (fields: Partial<SendResult>): SendResult => ({
      ok: false,
      status: 0,
      bodyExcerpt: '',
      error: '',
      ...fields,
      durationMs: Math.round(performance.now() - started),
    });

    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return result({ error: 'invalid URL' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return result({ error: `unsupported scheme ${url.protocol}` });
    // The socket never asks the resolver for an IP literal, so the address rule is applied here.
    if (!this.#options.allowPrivateUrls) {
      const literal = parseIpLiteral(url.hostname);
      if (literal !== null && !isPublicAddress(literal)) return result({ error: new AddressNotPublicError(literal).message });
    }

    const { timeoutMs } = this.#options;
    return new Promise<SendResult>((resolve) => {
      let expire: NodeJS.Immediate | undefined;
      const answer = new Answer((end) => {
        clearTimeout(timer);
        clearImmediate(expire);
        resolve(result(this.#fields(answer, end)));
      });
      // The deadline runs from the start of send(). When it passes, the abort waits for the I/O this
      // loop turn has ready (setImmediate runs after it): an answer that arrived in time while the
      // process was busy is read, not cut off by a timer that happened to run first.
      const timer = setTimeout(() => {
        expire = setImmediate(() => answer.expire(timeoutMs));
      }, Math.max(0, timeoutMs - (performance.now() - started)));
      try {
        this.#agent.dispatch(
          { origin: url.origin, path: `${url.pathname}${url.search}`, method: 'POST', headers: this.#headers(request.headers), body: request.body },
          answer,
        );
      } catch (error) {
        answer.onResponseError(undefined, error as Error);
      }
    });
  }

  /** The attempt's fields from how its exchange ended. */
  #fields(answer: Answer, end: AnswerEnd): Partial<SendResult> {
    const { status } = answer;
    const { timeoutMs } = this.#options;
    if ('timedOut' in end) return { status, error: `timeout after ${timeoutMs} ms` };
    if ('error' in end) {
      const timeoutCode = /^UND_ERR_(HEADERS|BODY|CONNECT)_TIMEOUT$/.test(String((end.error as { code?: unknown } | null)?.code));
      return { status, error: timeoutCode ? `timeout after ${timeoutMs} ms` : describeFailure(end.error) };
    }
    const excerpt = answer.excerpt();
    if (end.truncated) return { status, bodyExcerpt: excerpt, error: `response body larger than ${MAX_RESPONSE_BYTES} bytes` };
    if (status >= 200 && status < 300) return { ok: true, status, bodyExcerpt: excerpt };
    if (status >= 300 && status < 400) return { status, bodyExcerpt: excerpt, error: `redirect ${status} not followed` };
    const retryAfterMs = RETRY_AFTER_STATUSES.has(status) ? parseRetryAfter(answer.retryAfter, Date.now()) : undefined;
    return { status, bodyExcerpt: excerpt, error: `status ${status}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }

  /** Waits for requests in flight, then closes every pooled connection. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  #headers(given: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': this.#options.userAgent };
    // Lower-case keys so a caller's `Content-Type` replaces ours instead of sending both.
    for (const [name, value] of Object.entries(given)) headers[name.toLowerCase()] = value;
    return headers;
  }
}

/** How an exchange ended: its whole answer read (or cut past MAX_RESPONSE_BYTES), an error, or the deadline. */
type AnswerEnd = { truncated: boolean } | { error: unknown } | { timedOut: true };

/**
 * One exchange as undici reports it (its dispatch handler, without the stream and promise that its
 * `request` builds per call): the final status, the first BODY_EXCERPT_BYTES of the body, and how it
 * ended, told once. Past MAX_RESPONSE_BYTES it stops and drops the connection instead of reading on;
 * the rest of the body is counted, never buffered.
 */
class Answer implements Dispatcher.DispatchHandler {
  status = 0;
  retryAfter: string | string[] | undefined;
  private readonly head: Buffer[] = [];
  private kept = 0;
  private total = 0;
  private ended = false;
  private controller: Dispatcher.DispatchController | undefined;
  private abortedWith: Error | undefined;

  constructor(private readonly onEnd: (how: AnswerEnd) => void) {}

  /** The deadline passed: ends now, and the exchange is aborted now or as soon as undici starts it. */
  expire(timeoutMs: number): void {
    // Told first: undici reports the abort as an error, at once.
    this.end({ timedOut: true });
    this.abortedWith = new Error(`timeout after ${timeoutMs} ms`);
    this.controller?.abort(this.abortedWith);
  }

  excerpt(): string {
    return new StringDecoder('utf8').write(Buffer.concat(this.head));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortedWith) controller.abort(this.abortedWith);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // Called again for the final answer after an informational one (1xx), which replaces it.
    this.status = statusCode;
    this.retryAfter = headers['retry-after'];
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.kept < BODY_EXCERPT_BYTES) {
      const part = Buffer.from(chunk.subarray(0, BODY_EXCERPT_BYTES - this.kept));
      this.head.push(part);
      this.kept += part.length;
    }
    this.total += chunk.length;
    if (this.total > MAX_RESPONSE_BYTES) {
      this.end({ truncated: true });
      controller.abort(new Error(`response body larger than ${MAX_RESPONSE_BYTES} bytes`));
    }
  }

  onResponseEnd(): void {
    this.end({ truncated: false });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.end({ error });
  }

  private end(how: AnswerEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(how);
  }
}
