import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { serveDashboard } from './dashboard-static.js';
import { restError } from './errors.js';
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
  config: Pick<Config, 'port'> & ApiDeps['config'];
  logger: Logger;
  deps: Omit<ApiDeps, 'config' | 'logger'>;
  /** Defaults to every interface. */
  host?: string;
}

/** Every cleartext HTTP/2 connection starts with exactly these bytes. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const READY_TIMEOUT_MS = 3_000;

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

/**
 * Connect stops reading a body that passes readMaxBytes; by default that destroys the request,
 * and on HTTP/1.1 the socket with it, so the client saw a connection reset instead of
 * resource_exhausted. Stop without destroying, and discard whatever is left once answered.
 */
function keepSocketOnEarlyStop(req: http.IncomingMessage, res: http.ServerResponse): void {
  req[Symbol.asyncIterator] = () => req.iterator({ destroyOnReturn: false });
  res.once('finish', () => {
    if (!req.complete) req.resume();
  });
}

/** Hands each new connection to the HTTP/2 or the HTTP/1.1 server, by its first bytes. */
function sniffProtocol(socket: net.Socket, h1: http.Server, h2: http2.Http2Server): void {
  let seen = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const looksH2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (looksH2 && seen.length < H2_PREFACE.length) return; // a partial preface: wait for the rest
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.pause();
    socket.unshift(seen);
    (looksH2 ? h2 : h1).emit('connection', socket);
    process.nextTick(() => socket.resume());
  };
  const onEnd = () => socket.destroy();
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', () => socket.destroy());
}

/** The management API on one port: Connect, gRPC, gRPC-Web, REST and health, over HTTP/1.1 and h2c. */
export async function startApiServer({ config, logger, deps, host }: ApiServerOptions): Promise<ApiServer> {
  const log = logger.child({ component: 'api' });
  // Bounded once here, so /readyz and grpc.health.v1.Health answer alike when a check hangs.
  const ready = (): Promise<void> => withTimeout(deps.ready(), READY_TIMEOUT_MS, 'the readiness check');
  const apiDeps: ApiDeps = { ...deps, config, logger, ready };
  let rest: RestRouter | undefined;

  const restFallback = (req: NodeRequest, res: NodeResponse) => {
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    rest!
      .handle({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        authorization: req.headers.authorization,
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
    if (serveDashboard(req, res)) return;
    // gRPC gets its own resource_exhausted status from readMaxBytes; everyone else a plain 413.
    const contentType = String(req.headers['content-type'] ?? '');
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES && !contentType.startsWith('application/grpc')) {
      const failure = restError('payload_too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`);
      sendJson(res, failure.status, failure.body);
      req.resume();
      return;
    }
    if (req instanceof http.IncomingMessage) keepSocketOnEarlyStop(req, res as http.ServerResponse);
    connect(req, res);
  };

  const h1 = http.createServer(listener);
  const h2 = http2.createServer({}, listener);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    sniffProtocol(socket, h1, h2);
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
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, 2_000);
      await closed;
      clearTimeout(timer);
    },
  };
}
