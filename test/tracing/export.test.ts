import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../src/tracing/tracing.js';

/** A collector that answers every export with `status`, keeping the requests' headers. */
async function collector(status: number) {
  const requests: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    req.resume().on('end', () => {
      requests.push(req.headers);
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{}' : '{"code":3,"message":"refused"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, requests };
}

describe('OTLP export', () => {
  it('sends the standard OTEL_EXPORTER_OTLP_HEADERS, and a refused export is reported once, without them', async () => {
    const refusing = await collector(400);
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-collector-token=sekrit-123';
    const warnings: string[] = [];
    try {
      const { tracing, shutdown } = await startTracing({ otlpTracesUrl: refusing.url, serviceName: 'export-test' }, '0.0.0', (m) => warnings.push(m));
      await tracing.inSpan('send', {}, async () => {});
      await tracing.inSpan('send', {}, async () => {});
      await shutdown();
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
    }
    expect(refusing.requests.length).toBeGreaterThan(0);
    expect(refusing.requests[0]!['x-collector-token']).toBe('sekrit-123');
    expect(refusing.requests[0]!['content-type']).toBe('application/json');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^traces: .*(400|Bad Request)/);
    expect(warnings.join('\n')).not.toContain('sekrit');
  });

  it('without an endpoint, loads no exporter and makes no request', async () => {
    const quiet = await collector(200);
    const { tracing, shutdown } = await startTracing({ serviceName: 'export-test' }, '0.0.0', () => {});
    const context = await tracing.inSpan('send', {}, async (span) => span.context);
    await shutdown();
    expect(context.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(quiet.requests).toHaveLength(0);
  });
});
