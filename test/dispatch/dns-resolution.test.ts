import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { HostResolver, type ResolvedAddress } from '../../src/dispatch/host-resolver.js';
import { HttpSender } from '../../src/dispatch/http-sender.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(): Promise<number> {
  const server = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

function sender(timeoutMs: number, resolver?: HostResolver): HttpSender {
  const s = new HttpSender({ timeoutMs, allowPrivateUrls: true, userAgent: 'Humiris-Webhooks/test', ...(resolver ? { resolver } : {}) });
  cleanups.push(() => s.close());
  return s;
}

/**
 * Holds every thread of this process's libuv pool, as slow `getaddrinfo` calls would: each
 * thread waits in open() on a FIFO that nobody writes to, until the cleanup opens the other end.
 */
function holdThreadPool(): void {
  const size = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadpool-'));
  const fifos = Array.from({ length: size }, (_, i) => path.join(dir, `fifo-${i}`));
  for (const fifo of fifos) {
    execFileSync('mkfifo', [fifo]);
    fs.open(fifo, 'r', (error, fd) => (error ? undefined : fs.close(fd, () => {})));
  }
  cleanups.push(async () => {
    // A reader may still be queued behind the others: retry until each end finds its reader.
    for (const fifo of fifos) {
      for (let tries = 0; ; tries++) {
        try {
          fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENXIO' || tries > 200) throw error;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * A DNS server on 127.0.0.1: `zone` gives a name's IPv4 addresses (no IPv6 ones), `silent` names
 * get no answer at all, any other name does not exist. Counts the questions per name and type.
 */
async function dnsServer(zone: Record<string, string[]>, silent: (name: string, type: string) => boolean = () => false) {
  const socket = dgram.createSocket('udp4');
  const questions = new Map<string, number>();
  socket.on('message', (message, peer) => {
    const query = dnsPacket.decode(message);
    const question = query.questions![0]!;
    const key = `${question.name} ${question.type}`;
    questions.set(key, (questions.get(key) ?? 0) + 1);
    if (silent(question.name, question.type)) return;
    const known = zone[question.name];
    const answers = known && question.type === 'A' ? known.map((data) => ({ type: 'A' as const, name: question.name, ttl: 30, data })) : [];
    const reply = dnsPacket.encode({ id: query.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3), questions: query.questions, answers });
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { server: `127.0.0.1:${socket.address().port}`, questions };
}

describe('resolving webhook hosts', () => {
  it('sends to a named host while every thread of the libuv pool is held (slow system lookups of other hosts)', async () => {
    const port = await receiver();
    const s = sender(2_000);
    holdThreadPool();
    const result = await s.send({ url: `http://localhost:${port}/hook`, body: '{}', headers: {} });
    expect(result).toMatchObject({ ok: true, status: 204, error: '' });
  });

  it('sends to a host while the DNS of many others never answers, and tells those apart', async () => {
    const port = await receiver();
    const dns = await dnsServer({ 'fast.test': ['127.0.0.1'] }, (name) => name.startsWith('slow-'));
    const s = sender(5_000, new HostResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 }));
    const started = performance.now();
    const stuck = Array.from({ length: 20 }, (_, i) => s.send({ url: `http://slow-${i}.test:${port}/`, body: '{}', headers: {} }));
    const fast = await s.send({ url: `http://fast.test:${port}/hook`, body: '{}', headers: {} });
    const fastMs = performance.now() - started;
    expect(fast).toMatchObject({ ok: true, status: 204 });
    const failed = await Promise.all(stuck);
    const stuckMs = performance.now() - started;
    for (const [i, result] of failed.entries()) expect(result).toMatchObject({ ok: false, status: 0, error: `could not resolve host: slow-${i}.test: DNS did not answer in time` });
    // The slow names wait out their DNS timeout; the fast one did not wait for them.
    expect(stuckMs).toBeGreaterThanOrEqual(450);
    expect(fastMs).toBeLessThan(stuckMs);
  });

  it("does not wait out the timeout of one family's query once the other answered (a server that drops AAAA queries)", async () => {
    const dns = await dnsServer({ 'v4only.test': ['127.0.0.1'] }, (_name, type) => type === 'AAAA');
    const resolver = new HostResolver({ servers: [dns.server], timeoutMs: 2_000, tries: 1 });
    const started = performance.now();
    expect(await resolver.resolve('v4only.test')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(dns.questions.get('v4only.test AAAA')).toBe(1);
  });

  it('asks once for many sends at once and reuses the answer for its TTL, at most the longest reuse', async () => {
    const dns = await dnsServer({ 'a.test': ['127.0.0.1', '127.0.0.2'] });
    let now = 1_000_000;
    const resolver = new HostResolver({ servers: [dns.server], maxTtlMs: 20_000, now: () => now });
    const answers = await Promise.all(Array.from({ length: 5 }, () => resolver.resolve('A.test.')));
    for (const answer of answers) expect(answer).toEqual([{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }]);
    expect(dns.questions.get('a.test A')).toBe(1);
    now += 19_000;
    await resolver.resolve('a.test');
    expect(dns.questions.get('a.test A')).toBe(1);
    // The TTL is 30 s, but no answer is kept longer than maxTtlMs.
    now += 2_000;
    await resolver.resolve('a.test');
    expect(dns.questions.get('a.test A')).toBe(2);
  });

  it('takes a name DNS does not know to the system lookup (hosts file, search domains), a few at a time', async () => {
    const dns = await dnsServer({});
    let running = 0;
    let most = 0;
    const systemLookup = async (host: string): Promise<ResolvedAddress[]> => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 50));
      running--;
      if (host === 'gone.internal') return [];
      return [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }];
    };
    const resolver = new HostResolver({ servers: [dns.server], systemLookups: 2, systemLookup });
    const names = Array.from({ length: 6 }, (_, i) => `svc-${i}.internal`);
    const answers = await Promise.all(names.map((name) => resolver.resolve(name)));
    for (const answer of answers) expect(answer).toEqual([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]);
    expect(most).toBe(2);
    expect(dns.questions.get('svc-0.internal A')).toBe(1);
    await expect(resolver.resolve('gone.internal')).rejects.toMatchObject({ code: 'ENOTFOUND', message: 'gone.internal: no such host' });
  });

  it('asks the system lookup when no name server takes queries (hosts file on a machine without DNS)', async () => {
    const closed = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => closed.bind(0, '127.0.0.1', resolve));
    const port = closed.address().port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const asked: string[] = [];
    const resolver = new HostResolver({ servers: [`127.0.0.1:${port}`], systemLookup: async (host) => (asked.push(host), [{ address: '127.0.0.1', family: 4 }]) });
    expect(await resolver.resolve('db.internal')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(asked).toEqual(['db.internal']);
  });

  it('answers localhost and IP literals without asking anyone', async () => {
    const dns = await dnsServer({});
    const resolver = new HostResolver({ servers: [dns.server] });
    expect(await resolver.resolve('localhost')).toEqual([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]);
    expect(await resolver.resolve('api.localhost')).toEqual([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]);
    expect(await resolver.resolve('203.0.113.9')).toEqual([{ address: '203.0.113.9', family: 4 }]);
    expect(await resolver.resolve('[2001:db8::1]')).toEqual([{ address: '2001:db8::1', family: 6 }]);
    expect(dns.questions.size).toBe(0);
  });

  it('refuses a host whose DNS answers a private address when private URLs are not allowed', async () => {
    const dns = await dnsServer({ 'inside.test': ['10.1.2.3'] });
    const s = new HttpSender({ timeoutMs: 2_000, allowPrivateUrls: false, userAgent: 'Humiris-Webhooks/test', resolver: new HostResolver({ servers: [dns.server] }) });
    cleanups.push(() => s.close());
    expect(await s.send({ url: 'http://inside.test/hook', body: '{}', headers: {} })).toMatchObject({ ok: false, status: 0, error: 'address 10.1.2.3 is not public' });
  });
});
