import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { DEFAULT_API_LIMITS, type ApiLimits, type Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { serveDashboard } from './dashboard-static.js';
import { restError } from './errors.js';
import { serveOpenApi } from './openapi.js';
import { REFLECTION_PATHS } from './reflection.js';
import { createRestRouter, type RestRouter } from './rest.js';
import { clientErrorForUndecodable } from './undecodable.js';
import { HANDLER_OPTIONS, MAX_BODY_BYTES, registerRoutes, type ApiDeps } from './routes.js';

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface ApiServer {
  port: number;
  close(): Promise<void>;
}

export interface ApiServerOptions {
  config: Pick<Config, 'port'> & Partial<Pick<Config, 'apiLimits' | 'maxInFlight'>> & ApiDeps['config'];
  logger: Logger;
  deps: Omit<ApiDeps, 'config' | 'logger'>;
  /** Defaults to every interface. */
  host?: string;
  /** Answers GET /metrics on this port (unset when METRICS_PORT serves it on its own). */
  metrics?: (res: NodeResponse) => void;
}

/** Every cleartext HTTP/2 connection starts with exactly these bytes. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const READY_TIMEOUT_MS = 3_000;
/** Concurrent streams one HTTP/2 connection may open; nghttp2 refuses those beyond. */
export const MAX_STREAMS_PER_CONNECTION = 100;
/** Descriptors kept for Kafka, MongoDB and files; outgoing sends (maxInFlight) come on top. */
const RESERVED_DESCRIPTORS = 256;

/** After an early answer on HTTP/2, at most this much more of the body is read and dropped, for at most this long. */
const DRAIN_AFTER_ANSWER_BYTES = 2 * MAX_BODY_BYTES;
const DRAIN_AFTER_ANSWER_MS = 1_000;

/** One accepted connection; `busy` counts its requests in progress. */
interface Connection {
  socket: net.Socket;
  busy: number;
}

function sendJson(res: NodeResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The soft open-files limit (Linux); undefined where it cannot be read or is unlimited. */
function openFilesLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

const bodyReceived = (req: NodeRequest): boolean => (req instanceof http.IncomingMessage ? req.complete : req.stream.readableEnded);

/**
 * An answer given before the request body has fully arrived (413, a body Connect stopped reading)
 * ends it: otherwise the rest would be read and thrown away, however long it is. On HTTP/1.1 the
 * reply says `Connection: close` and Node closes the socket once it is sent; on HTTP/2 a little
 * more is read, then the stream is reset with NO_ERROR (RFC 9113, 8.1). Connect must not destroy
 * the request when it stops reading early, or the client would see a reset instead of the answer.
 */
function endUnreadBodies(req: NodeRequest, res: NodeResponse): void {
  req[Symbol.asyncIterator] = () => req.iterator({ destroyOnReturn: false });
  const writeHead = res.writeHead as (...args: unknown[]) => NodeResponse;
  res.writeHead = function (this: NodeResponse, ...args: unknown[]) {
    if (!bodyReceived(req)) {
      if (req instanceof http.IncomingMessage) (this as http.ServerResponse).shouldKeepAlive = false;
      else drainThenReset(req);
    }
    return writeHead.apply(this, args);
  } as typeof res.writeHead;
}

/** A client that finishes a modest body gets a clean end; past a bound in bytes or time the stream is reset. */
function drainThenReset(req: http2.Http2ServerRequest): void {
  const reset = () => {
    clearTimeout(timer);
    if (!req.stream.closed) req.stream.close(http2.constants.NGHTTP2_NO_ERROR);
  };
  const timer = setTimeout(reset, DRAIN_AFTER_ANSWER_MS).unref();
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_AFTER_ANSWER_BYTES) reset();
  });
  req.stream.once('close', () => clearTimeout(timer));
  req.resume();
}

/**
 * Hands each new connection to the HTTP/2 or the HTTP/1.1 server, by its first bytes; a
 * connection that does not say which within the headers timeout is closed.
 */
function sniffProtocol(socket: net.Socket, headersTimeoutMs: number, handOver: (socket: net.Socket, h2: boolean) => void): void {
  let seen = Buffer.alloc(0);
  const onTimeout = () => socket.destroy();
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const looksH2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (looksH2 && seen.length < H2_PREFACE.length) return; // a partial preface: wait for the rest
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('timeout', onTimeout);
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(seen);
    handOver(socket, looksH2);
    process.nextTick(() => socket.resume());
  };
  const onEnd = () => socket.destroy();
  socket.setTimeout(headersTimeoutMs);
  socket.on('timeout', onTimeout);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', () => socket.destroy());
}

/**
 * HTTP/2 has no request-headers or keep-alive timeout of its own: a session must open a stream
 * within the headers timeout, and is closed once it has had no open stream for the idle timeout
 * (PING frames do not keep it alive).
 */
function watchSession(session: http2.ServerHttp2Session, limits: ApiLimits): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      session.close();
      // A peer that never lets the close finish is cut.
      setTimeout(() => session.destroy(), 1_000).unref();
    }, ms).unref();
  };
  arm(limits.headersTimeoutMs);
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    open++;
    clearTimeout(timer);
    stream.once('close', () => {
      if (--open === 0 && !session.closed) arm(limits.idleTimeoutMs);
    });
  });
  session.once('close', () => clearTimeout(timer));
}

/** A stream whose request has not fully arrived within the request timeout, or that stalls for the idle timeout, is reset. */
function watchStream(stream: http2.ServerHttp2Stream, limits: ApiLimits): void {
  const cancel = () => {
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
  };
  const timer = setTimeout(() => {
    if (!stream.readableEnded) cancel();
  }, limits.requestTimeoutMs).unref();
  stream.setTimeout(limits.idleTimeoutMs, cancel);
  stream.once('close', () => clearTimeout(timer));
}

/** The management API on one port: Connect, gRPC, gRPC-Web, REST and health, over HTTP/1.1 and h2c. */
export async function startApiServer({ config, logger, deps, host, metrics }: ApiServerOptions): Promise<ApiServer> {
  const log = logger.child({ component: 'api' });
  // Bounded once here, so /readyz and grpc.health.v1.Health answer alike when a check hangs.
  const ready = (): Promise<void> => withTimeout(deps.ready(), READY_TIMEOUT_MS, 'the readiness check');
  const apiDeps: ApiDeps = { ...deps, config, logger, ready };
  const limits = config.apiLimits ?? DEFAULT_API_LIMITS;
  const descriptors = openFilesLimit();
  // The cap must leave descriptors for everything else, or the sends and health checks fail with EMFILE.
  const spare = descriptors === undefined ? Infinity : descriptors - RESERVED_DESCRIPTORS - (config.maxInFlight ?? 0);
  const maxConnections = Math.max(1, Math.min(limits.maxConnections, spare));
  if (maxConnections < limits.maxConnections) {
    log.warn({ configured: limits.maxConnections, maxConnections, openFilesLimit: descriptors }, 'API connection cap lowered to fit the open-files limit (raise ulimit -n)');
  }
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeoutMs = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  let rest: RestRouter | undefined;

  const restFallback = (req: NodeRequest, res: NodeResponse) => {
    const controller = new AbortController();
    // Only a caller gone before the answer cancels: an abort builds a DOMException, which costs.
    res.on('close', () => res.writableFinished || controller.abort());
    rest!
      .handle({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        contentLength: req.headers['content-length'],
        traceparent: req.headers.traceparent as string | undefined,
        tracestate: req.headers.tracestate as string | undefined,
        body: req as AsyncIterable<Uint8Array>,
        signal: controller.signal,
      })
      .then(
        (reply) => sendJson(res, reply.status, reply.body, reply.headers),
        (error: unknown) => {
          log.error({ err: error, method: req.method, path: req.url?.split('?')[0] }, 'REST request failed');
          const failure = restError('internal', 'internal error');
          if (!res.headersSent) sendJson(res, failure.status, failure.body);
        },
      );
  };

  const connect = connectNodeAdapter({
    ...HANDLER_OPTIONS,
    // REST is built on this very router (called synchronously), so it reaches exactly these handlers.
    routes: (router) => {
      const { handlers } = registerRoutes(router, apiDeps);
      handlers.splice(0, handlers.length, ...handlers.map(clientErrorForUndecodable));
      rest = createRestRouter(handlers);
    },
    // Connect's own request type omits `write`; the objects are the Node ones.
    fallback: (req, res) => restFallback(req, res as unknown as NodeResponse),
  });

  const listener = (req: NodeRequest, res: NodeResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/readyz') {
      ready().then(
        () => sendJson(res, 200, { status: 'ready' }),
        (error: unknown) => sendJson(res, 503, { status: 'unavailable', reason: (error as Error).message }),
      );
      return;
    }
    if (req.method === 'GET' && path === '/openapi.json') return serveOpenApi(res);
    if (req.method === 'GET' && path === '/metrics' && metrics) return metrics(res);
    if (serveDashboard(req, res)) return;
    // A body over MAX_BODY_BYTES is refused by Connect (readMaxBytes) or by REST, by its declared length when there is one.
    // A reflection stream is answered while its requests still come, so its answers end nothing.
    if (!REFLECTION_PATHS.has(path!)) endUnreadBodies(req, res);
    connect(req, res);
  };

  const h1 = http.createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, headersTimeoutMs / 4)),
    },
    listener,
  );
  h1.setTimeout(limits.idleTimeoutMs);
  // Node arms its header and request timeouts when a server starts listening; this one is only
  // ever handed sockets, so it is told it listens.
  h1.emit('listening');
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: MAX_STREAMS_PER_CONNECTION } }, listener);
  h2.setTimeout(limits.idleTimeoutMs);

  // Oldest first: at the cap, the oldest connection without a request in progress makes room.
  const connections = new Map<net.Socket, Connection>();
  const sessions = new Map<http2.Http2Session, Connection>();
  let handingOver: Connection | undefined;
  h1.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const connection = connections.get(req.socket);
    if (!connection) return;
    connection.busy++;
    res.once('close', () => connection.busy--);
  });
  h2.on('session', (session) => {
    const connection = handingOver!;
    sessions.set(session, connection);
    session.once('close', () => sessions.delete(session));
    watchSession(session, { ...limits, headersTimeoutMs });
  });
  h2.on('stream', (stream: http2.ServerHttp2Stream) => {
    watchStream(stream, limits);
    const connection = sessions.get(stream.session!);
    if (!connection) return;
    connection.busy++;
    stream.once('close', () => connection.busy--);
  });

  const makeRoom = (): boolean => {
    if (connections.size < maxConnections) return true;
    for (const connection of connections.values()) {
      if (connection.busy > 0) continue;
      connection.socket.destroy();
      connections.delete(connection.socket);
      return true;
    }
    return false;
  };
  let refusedLogged = 0;
  const server = net.createServer((socket) => {
    if (!makeRoom()) {
      // Every open connection has a request in progress: refuse this one (logged at most every 10 s).
      socket.destroy();
      if (Date.now() - refusedLogged > 10_000) {
        refusedLogged = Date.now();
        log.warn({ maxConnections }, 'API connection refused: every open connection is busy');
      }
      return;
    }
    const connection: Connection = { socket, busy: 0 };
    connections.set(socket, connection);
    socket.on('close', () => connections.delete(socket));
    sniffProtocol(socket, headersTimeoutMs, (raw, isH2) => {
      if (!isH2) return void h1.emit('connection', raw);
      handingOver = connection;
      try {
        h2.emit('connection', raw);
      } finally {
        handingOver = undefined;
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  log.info({ port }, 'API listening (HTTP/1.1 and h2c: Connect, gRPC, gRPC-Web, REST)');

  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive connections go now; in-flight requests get a moment, then are cut.
      h1.closeIdleConnections();
      h1.close();
      for (const session of sessions.keys()) session.close();
      const timer = setTimeout(() => {
        for (const socket of connections.keys()) socket.destroy();
      }, 2_000);
      await closed;
      clearTimeout(timer);
    },
  };
}
