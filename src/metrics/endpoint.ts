import http from 'node:http';
import type http2 from 'node:http2';
import type net from 'node:net';

type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** What GET /metrics writes: a registry, or the sum over the workers of `serve --workers`. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** Answers GET /metrics with the source in the Prometheus text format. */
export function metricsResponder(registry: MetricsSource): (res: NodeResponse) => void {
  return (res) => {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (error: unknown) => {
        const text = `metrics could not be collected: ${(error as Error).message}\n`;
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    );
  };
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** A port of its own (METRICS_PORT) that serves GET /metrics and nothing else. */
export async function startMetricsServer(port: number, respond: (res: NodeResponse) => void, host?: string): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: this port serves GET /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    respond(res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
