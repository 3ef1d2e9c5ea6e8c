import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HostResolver, type ResolvedAddress } from '../../src/dispatch/host-resolver.js';
import { BODY_EXCERPT_BYTES, HttpSender, MAX_RESPONSE_BYTES } from '../../src/dispatch/http-sender.js';

const TIMEOUT_MS = 300;

// A throwaway self-signed certificate for localhost/127.0.0.1, generated for this test only.
const SELF_SIGNED_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwUsycievZvMZjsn4
sy31z7Psb+oQHjoa7HJujYzdboShRANCAAS6a3qgZE35iIgP4M1rkO8nQKluJahN
HPev8EFgnWiwIr68kJSgWQDQIKS8oSpnBkppNtoXJ2mO3F4ueBTuX4ko
-----END PRIVATE KEY-----`;
const SELF_SIGNED_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUAWka583frXT9eyHtXR6Baf1zMF8wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjA2MjIwN1oYDzIxMjYxMTAy
MDYyMjA3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAS6a3qgZE35iIgP4M1rkO8nQKluJahNHPev8EFgnWiwIr68kJSgWQDQ
IKS8oSpnBkppNtoXJ2mO3F4ueBTuX4koo28wbTAdBgNVHQ4EFgQUhkzaOLPHTX8Q
nxhfYQRAPb1NWT8wHwYDVR0jBBgwFoAUhkzaOLPHTX8QnxhfYQRAPb1NWT8wDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIge3LlpIw1H2HOjFRyveBSbju0bvI69jv2qJ8471GJaRECIQCX
s5R5S9z0alz531eCeQhbsqyW1scl3hkFndFBXrfreQ==
-----END CERTIFICATE-----`;
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

async function listen(server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  closers.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A real HTTP receiver on 127.0.0.1; returns its base URL. */
async function receiver(handler: http.RequestListener): Promise<string> {
  return `http://${await listen(http.createServer(handler))}`;
}

/** A raw TCP server for receivers that do not speak HTTP properly. */
async function tcpServer(onSocket: (socket: net.Socket) => void): Promise<string> {
  return listen(net.createServer(onSocket));
}

function sender(options: Partial<ConstructorParameters<typeof HttpSender>[0]> = {}): HttpSender {
  const s = new HttpSender({ timeoutMs: TIMEOUT_MS, allowPrivateUrls: true, userAgent: 'Humiris-Webhooks/test', ...options });
  closers.push(() => s.close());
  return s;
}

const post = (s: HttpSender, url: string, headers: Record<string, string> = {}) => s.send({ url, body: '{"id":"evt_1"}', headers });

describe('HttpSender', () => {
  afterAll(async () => {
    await Promise.allSettled(closers.splice(0).map((close) => close()));
  });

  it('POSTs the body and headers, and a 2xx is a success', async () => {
    const seen: Array<{ method?: string; headers: http.IncomingHttpHeaders; body: string }> = [];
    const url = await receiver((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
      });
    });
    const result = await post(sender(), `${url}/hook?x=1`, { 'X-Humiris-Delivery': 'dlv_1', 'Content-Type': 'application/json' });
    expect(result).toMatchObject({ ok: true, status: 200, bodyExcerpt: 'thanks', error: '' });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.body).toBe('{"id":"evt_1"}');
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.headers['user-agent']).toBe('Humiris-Webhooks/test');
    expect(seen[0]!.headers['x-humiris-delivery']).toBe('dlv_1');
  });

  it('reuses keep-alive connections instead of opening one per send', async () => {
    const ports = new Set<number>();
    const url = await receiver((req, res) => {
      ports.add(req.socket.remotePort!);
      req.resume().on('end', () => res.writeHead(204).end());
    });
    const s = sender();
    for (let i = 0; i < 10; i++) expect((await post(s, url)).ok).toBe(true);
    // undici frees a socket a tick after the body ends, so back-to-back sends may alternate between two.
    expect(ports.size).toBeLessThanOrEqual(2);
  });

  it('counts a 500 as a failure and keeps the body excerpt', async () => {
    const url = await receiver((req, res) => req.resume().on('end', () => res.writeHead(500).end('database down')));
    expect(await post(sender(), url)).toMatchObject({ ok: false, status: 500, bodyExcerpt: 'database down', error: 'status 500' });
  });

  it('reads the final answer after an informational one, and its Retry-After', async () => {
    const url = await receiver((req, res) =>
      req.resume().on('end', () => {
        res.writeEarlyHints({ link: '</style.css>; rel=preload' });
        res.writeHead(503, { 'retry-after': '7' }).end('busy');
      }),
    );
    expect(await post(sender(), url)).toMatchObject({ ok: false, status: 503, bodyExcerpt: 'busy', error: 'status 503', retryAfterMs: 7_000 });
  });

  it('keeps only the first 1 KiB of the body, without cutting a character', async () => {
    const text = `${'a'.repeat(BODY_EXCERPT_BYTES - 1)}é and more`;
    const url = await receiver((req, res) => req.resume().on('end', () => res.writeHead(400).end(text)));
    const result = await post(sender(), url);
    expect(result).toMatchObject({ ok: false, status: 400, error: 'status 400' });
    expect(result.bodyExcerpt).toBe('a'.repeat(BODY_EXCERPT_BYTES - 1));
  });

  it('does not follow a redirect', async () => {
    let followed = false;
    const target = await receiver((_req, res) => ((followed = true), res.writeHead(200).end()));
    const url = await receiver((req, res) => req.resume().on('end', () => res.writeHead(302, { location: target }).end()));
    expect(await post(sender(), url)).toMatchObject({ ok: false, status: 302, error: 'redirect 302 not followed' });
    expect(followed).toBe(false);
  });

  it('times out a receiver that never answers', async () => {
    const url = await receiver(() => {});
    const started = Date.now();
    const result = await post(sender(), url);
    expect(result).toMatchObject({ ok: false, status: 0, error: `timeout after ${TIMEOUT_MS} ms` });
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1_000);
    expect(result.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
  });

  it('times out a send still connecting at its deadline, and never sends it once connected', async () => {
    const deadlineMs = 1_000;
    let requests = 0;
    const url = await receiver((req, res) => {
      requests++;
      req.resume().on('end', () => res.end('ok'));
    });
    // The host resolves well after the deadline, yet before the connect timeout undici keeps as a backstop (twice the deadline).
    class LateResolver extends HostResolver {
      override async resolve(): Promise<ResolvedAddress[]> {
        await new Promise((resolve) => setTimeout(resolve, deadlineMs * 1.8));
        return [{ address: '127.0.0.1', family: 4 }];
      }
    }
    const started = Date.now();
    const result = await post(sender({ timeoutMs: deadlineMs, resolver: new LateResolver() }), url.replace('127.0.0.1', 'late.test'));
    expect(result).toMatchObject({ ok: false, status: 0, error: `timeout after ${deadlineMs} ms` });
    expect(Date.now() - started).toBeLessThan(deadlineMs * 1.6);
    await new Promise((resolve) => setTimeout(resolve, deadlineMs * 1.2));
    expect(requests).toBe(0);
  });

  it('times out a body dripping past the deadline, even after 200 headers', async () => {
    const url = await receiver((req, res) => {
      req.resume();
      res.writeHead(200);
      const drip = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(drip));
    });
    const result = await post(sender(), url);
    expect(result).toMatchObject({ ok: false, status: 200, error: `timeout after ${TIMEOUT_MS} ms` });
    expect(result.durationMs).toBeLessThan(TIMEOUT_MS + 1_000);
  });

  describe('the deadline: from the start of the attempt to the last body byte', () => {
    const DEADLINE_MS = 1_000;
    /** The stated margin: answers this far before the deadline count, this far after it do not. */
    const MARGIN_MS = 150;

    /**
     * A receiver on an event loop of its own (a worker thread), so it answers on time while this
     * one is busy: 200 after `answerAfterMs` from the start of the request as it saw it.
     */
    async function punctualReceiver(answerAfterMs: number): Promise<string> {
      const worker = new Worker(
        `const http = require('node:http');
        const { parentPort, workerData } = require('node:worker_threads');
        const server = http.createServer((req, res) => {
          req.resume();
          setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('late but in time'), workerData.answerAfterMs);
        });
        server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));`,
        { eval: true, workerData: { answerAfterMs } },
      );
      closers.push(async () => void (await worker.terminate()));
      const port = await new Promise<number>((resolve) => worker.once('message', resolve));
      return `http://127.0.0.1:${port}/hook`;
    }

    /** Keeps this event loop busy, as a loaded process is, for `ms`. */
    function busy(ms: number): void {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // spin
      }
    }

    it(`counts a 200 sent ${MARGIN_MS} ms before the deadline, even when the process is too busy to read it before the deadline passes`, async () => {
      const url = await punctualReceiver(DEADLINE_MS - MARGIN_MS);
      const s = sender({ timeoutMs: DEADLINE_MS });
      await post(s, url); // a pooled connection, as under load
      const started = performance.now();
      const pending = post(s, url);
      await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS - 2 * MARGIN_MS));
      // Busy from before the answer until after the deadline, late in a loop turn (as after a run of
      // I/O callbacks): the answer and the deadline both wait for the next turn.
      await new Promise((resolve) => setImmediate(resolve));
      busy(DEADLINE_MS + 2 * MARGIN_MS - (performance.now() - started));
      const result = await pending;
      expect(result).toMatchObject({ ok: true, status: 200, error: '', bodyExcerpt: 'late but in time' });
    });

    it(`fails a 200 sent ${MARGIN_MS} ms after the deadline`, async () => {
      const url = await punctualReceiver(DEADLINE_MS + MARGIN_MS);
      const result = await post(sender({ timeoutMs: DEADLINE_MS }), url);
      expect(result).toMatchObject({ ok: false, error: `timeout after ${DEADLINE_MS} ms` });
      expect(result.durationMs).toBeGreaterThanOrEqual(DEADLINE_MS - 20);
    });
  });

  it('reports a connection reset', async () => {
    const url = await receiver((req) => req.socket.destroy());
    const result = await post(sender(), url);
    expect(result).toMatchObject({ ok: false, status: 0 });
    expect(result.error).toMatch(/^connection reset/);
  });

  it('reports a refused connection', async () => {
    const probe = net.createServer();
    const address = await listen(probe);
    await closers.pop()!(); // the port is now closed
    expect(await post(sender(), `http://${address}/`)).toMatchObject({ ok: false, status: 0, error: 'connection refused' });
  });

  it('reports an invalid HTTP response', async () => {
    const address = await tcpServer((socket) => {
      socket.once('data', () => socket.end('THIS IS NOT HTTP\r\n\r\n'));
    });
    const result = await post(sender(), `http://${address}/`);
    expect(result).toMatchObject({ ok: false, status: 0 });
    expect(result.error).toMatch(/^invalid HTTP response/);
  });

  it('times out a TLS handshake that never finishes at the deadline', async () => {
    const deadlineMs = 1_000;
    // Accepts the connection and reads the client's hello, but never answers it.
    const address = await tcpServer((socket) => socket.resume());
    const started = Date.now();
    const result = await post(sender({ timeoutMs: deadlineMs }), `https://${address}/hook`);
    expect(result).toMatchObject({ ok: false, status: 0, error: `timeout after ${deadlineMs} ms` });
    expect(Date.now() - started).toBeLessThan(deadlineMs * 1.6);
  });

  it('reports a TLS failure against a server that does not speak TLS', async () => {
    const url = await receiver((_req, res) => res.end());
    const result = await post(sender(), url.replace('http://', 'https://'));
    expect(result).toMatchObject({ ok: false, status: 0 });
    // The readable reason only, e.g. `TLS error: wrong version number`, not OpenSSL's error stack.
    expect(result.error).toMatch(/^TLS error: [a-z]/);
    expect(result.error).not.toContain('SSL routines');
  });

  it('reports a TLS failure for a certificate nobody vouches for', async () => {
    let requests = 0;
    const server = https.createServer({ key: SELF_SIGNED_KEY, cert: SELF_SIGNED_CERT }, (_req, res) => ((requests += 1), res.end()));
    const address = await listen(server);
    const result = await post(sender(), `https://${address}/`);
    expect(result).toMatchObject({ ok: false, status: 0 });
    expect(result.error).toMatch(/^TLS error: .*certificate/);
    expect(requests).toBe(0);
  });

  it('stops reading a 100 MB body after 64 KiB', async () => {
    const total = 100 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    let serverSawClose!: () => void;
    const closed = new Promise<void>((resolve) => (serverSawClose = resolve));
    const url = await receiver((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': String(total) });
      const pump = () => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => serverSawClose());
      pump();
    });
    const started = Date.now();
    const result = await post(sender({ timeoutMs: 10_000 }), url);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ ok: false, status: 200, error: `response body larger than ${MAX_RESPONSE_BYTES} bytes` });
    expect(result.bodyExcerpt).toBe('x'.repeat(BODY_EXCERPT_BYTES));
    await closed;
    // Only socket buffers' worth was ever sent: the client hung up instead of draining 100 MB.
    expect(written).toBeLessThan(total / 4);
  });

  it('accepts a body of exactly 64 KiB', async () => {
    const url = await receiver((req, res) => req.resume().on('end', () => res.writeHead(200).end(Buffer.alloc(MAX_RESPONSE_BYTES, 'y'))));
    expect(await post(sender(), url)).toMatchObject({ ok: true, status: 200, error: '' });
  });

  describe('private addresses', () => {
    it.each(['127.0.0.1', '2130706433', '0x7f.0.0.1', '127.1', '[::1]', '[::ffff:127.0.0.1]'])(
      'refuses the IP literal %s without connecting',
      async (host) => {
        let connections = 0;
        const url = await receiver((_req, res) => ((connections += 1), res.end()));
        const port = new URL(url).port;
        const result = await post(sender({ allowPrivateUrls: false }), `http://${host}:${port}/`);
        expect(result.ok).toBe(false);
        expect(result.status).toBe(0);
        expect(result.error).toMatch(/^address (127\.0\.0\.1|::1|::ffff:7f00:1) is not public$/);
        expect(connections).toBe(0);
      },
    );

    it('refuses a host name that resolves to a private address at send time', async () => {
      let connections = 0;
      const url = await receiver((_req, res) => ((connections += 1), res.end()));
      const result = await post(sender({ allowPrivateUrls: false }), url.replace('127.0.0.1', 'localhost'));
      expect(result).toMatchObject({ ok: false, status: 0 });
      expect(result.error).toMatch(/^address (127\.0\.0\.1|::1) is not public$/);
      expect(connections).toBe(0);
    });

    it('allows them when private URLs are allowed', async () => {
      const url = await receiver((req, res) => req.resume().on('end', () => res.end('ok')));
      const s = sender({ allowPrivateUrls: true });
      expect(await post(s, url)).toMatchObject({ ok: true, status: 200 });
      expect(await post(s, url.replace('127.0.0.1', 'localhost'))).toMatchObject({ ok: true, status: 200 });
    });
  });

  it('reports a malformed URL instead of throwing', async () => {
    expect(await post(sender(), 'not a url')).toMatchObject({ ok: false, status: 0, error: 'invalid URL' });
    expect(await post(sender(), 'ftp://example.com/')).toMatchObject({ ok: false, error: 'unsupported scheme ftp:' });
  });

  it('validates its options once, up front', () => {
    const base = { timeoutMs: 1_000, allowPrivateUrls: false, userAgent: 'Humiris-Webhooks/test' };
    expect(() => new HttpSender({ ...base, timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new HttpSender({ ...base, timeoutMs: 1.5 })).toThrow(RangeError);
    expect(() => new HttpSender({ ...base, userAgent: '' })).toThrow(RangeError);
    expect(() => new HttpSender({ ...base, userAgent: 'a\r\nb' })).toThrow(RangeError);
    expect(() => new HttpSender({ ...base, maxConnectionsPerOrigin: 0 })).toThrow(RangeError);
  });
});
