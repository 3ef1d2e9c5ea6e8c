import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { isAlive, spawnLogged, type LoggedChild } from '../helpers/child.js';
import { scrape } from '../helpers/metrics.js';
import { startReceiver } from '../helpers/receiver.js';
import { kafkaBrokers, mongodbUri } from '../helpers/servers.js';
import { serviceProcessEnv } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

/*
 * `serve --workers 2` as users run it (the built dist, a process of its own): two workers on one
 * port and in the same consumer groups, on the shared test servers.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// debug: each API call logs an `rpc ok` line with the pid of the worker that answered it.
const env = await serviceProcessEnv('workers', { WEBHOOKS_EVENT_PARTITIONS: '4', WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', LOG_LEVEL: 'debug' });
const kafka = new Kafka({ brokers: kafkaBrokers(), clientId: 'serve-workers-test', logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const mongo = await MongoClient.connect(mongodbUri());
afterAll(async () => {
  await admin.disconnect();
  await mongo.close();
});

/** A REST call on a connection of its own, so node:cluster hands each to the next worker. */
function call(port: number, method: string, route: string, key: string, body?: unknown): Promise<{ status: number; json: any }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: route, agent: false, headers: { authorization: `Bearer ${key}`, ...(payload ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${route}: no answer within 15 s`)));
    req.end(payload);
  });
}

/** The members of a consumer group and the partitions each holds. */
async function groupMembers(group: string): Promise<number[]> {
  const { groups } = await admin.describeGroups([group]);
  return groups[0]!.members.map((m) => {
    const assignment = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {};
    return Object.values(assignment).reduce((n, partitions) => n + partitions.length, 0);
  });
}

/** The pids of the processes that logged `msg` (or the `field` of those lines). */
function pidsOf(service: LoggedChild, msg: string, field = 'pid'): Set<number> {
  const pids = new Set<number>();
  for (const line of service.output().split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    pids.add((JSON.parse(line) as Record<string, number>)[field]!);
  }
  return pids;
}

describe.sequential('serve --workers', () => {
  it('refuses a worker count that is not a whole number from 1, or auto', async () => {
    for (const [args, extra, expected] of [
      [['--workers', '0'], {}, /Invalid configuration: --workers: got "0", expected a whole number from 1 to 256 or auto/],
      [[], { WEBHOOKS_WORKERS: 'many' }, /Invalid configuration: WEBHOOKS_WORKERS: got "many", expected a whole number from 1 to 256/],
    ] as const) {
      const service = spawnLogged(process.execPath, ['bin/humiris-webhooks.js', 'serve', ...args], { cwd: ROOT, env: { ...env, ...extra } });
      expect((await service.exited).code, service.output()).toBe(78);
      expect(service.output()).toMatch(expected);
    }
  }, 60_000);

  it('Ctrl-C in a terminal (SIGINT to the process group, primary and workers at once) stops them all, exit 0', async () => {
    const service = spawnLogged(process.execPath, ['bin/humiris-webhooks.js', 'serve', '--workers', '2'], { cwd: ROOT, env: { ...env, LOG_LEVEL: 'info' }, detached: true });
    const started = JSON.parse(await service.line(/"msg":"workers started"/, 180_000)) as { pid: number; pids: number[] };
    process.kill(-service.child.pid!, 'SIGINT');
    expect(await service.exitsWithin(40_000), service.output().slice(-4_000)).toBe(true);
    expect((await service.exited).code, service.output().slice(-4_000)).toBe(0);
    expect(pidsOf(service, 'stopped')).toEqual(new Set([started.pid, ...started.pids]));
  }, 240_000);

  it('two workers share the port and the consumer groups, deliver each event once per webhook, survive a SIGKILLed worker, sum /metrics, stop on SIGTERM', async () => {
    const service = spawnLogged(process.execPath, ['bin/humiris-webhooks.js', 'serve', '--workers', '2'], { cwd: ROOT, env });
    const started = JSON.parse(await service.line(/"msg":"workers started"/, 180_000)) as { pid: number; pids: number[]; apiPort: number };
    const primary = started.pid;
    const port = started.apiPort;
    expect(started.pids).toHaveLength(2);
    expect(started.pids).not.toContain(primary);
    expect(primary).toBe(service.child.pid);
    // The first worker started alone: it was up before the second began.
    const lines = service.output().split('\n');
    const firstUp = lines.findIndex((l) => l.includes('"msg":"service started"'));
    const secondConnects = lines.findIndex((l) => l.includes('"msg":"connected to MongoDB"') && l.includes(`"pid":${started.pids[1]}`));
    expect(firstUp).toBeGreaterThanOrEqual(0);
    expect(secondConnects).toBeGreaterThan(firstUp);

    // Both answer API calls on the one port.
    const key = (await new ApiKeyStore(mongo.db(env.MONGODB_DATABASE!)).create('workers', 'test')).key;
    for (let i = 0; i < 20; i++) expect((await call(port, 'GET', '/v1/webhooks', key)).status).toBe(200);
    await until('rpc lines of both workers', () => (pidsOf(service, 'rpc ok').size === 2 ? true : undefined), 10_000);
    expect([...pidsOf(service, 'rpc ok')].sort()).toEqual([...started.pids].sort());

    // Both hold partitions of every consumer group.
    for (const role of ['matcher', 'dispatcher', 'retry']) {
      const members = await groupMembers(`${env.WEBHOOKS_TOPIC_PREFIX}-webhooks-${role}`);
      expect(members, role).toHaveLength(2);
      if (role !== 'retry') expect(members.every((partitions) => partitions > 0), role).toBe(true);
    }

    // Each event once per webhook.
    const receiver = await startReceiver();
    const webhooks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await call(port, 'POST', '/v1/webhooks', key, { url: `${receiver.url}/${i}`, events: ['email.received'] });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      webhooks.push(created.json.id);
    }
    const publish = async (count: number, batch: string) => {
      const ids: string[] = [];
      for (let i = 0; i < count; i += 10) {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, j) => call(port, 'POST', '/v1/events', key, { type: 'email.received', data: { batch, n: i + j } })),
        );
        for (const r of results) {
          expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
          ids.push(r.json.id);
        }
      }
      return ids;
    };
    /** Each (event, webhook) pair received, with how many times. */
    const received = (events: string[]) => {
      const wanted = new Set(events);
      const counts = new Map<string, number>();
      for (const r of receiver.requests) {
        if (!wanted.has(r.json?.id)) continue;
        const pair = `${r.json.id} ${r.headers['x-humiris-webhook']}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 1);
      }
      return counts;
    };
    const first = await publish(100, 'first');
    await receiver.waitFor(first.length * webhooks.length, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // a duplicate would arrive meanwhile
    const once = received(first);
    expect(once.size).toBe(first.length * webhooks.length);
    expect([...once.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(receiver.requests.map((r) => r.headers['x-humiris-delivery'])).size).toBe(receiver.requests.length);

    // /metrics is the whole service's: the sum over both workers, one series per label set.
    const metrics = await scrape(`http://127.0.0.1:${port}`);
    expect(metrics.sum('humiris_webhooks_deliveries_total', { outcome: 'succeeded' })).toBe(first.length * webhooks.length);
    expect(metrics.sum('humiris_webhooks_api_requests_total', { rpc: 'EventService/PublishEvent', code: 'ok' })).toBe(first.length);
    expect(metrics.sum('humiris_webhooks_api_requests_total', { rpc: 'WebhookService/ListWebhooks', code: 'ok' })).toBe(20);
    const series = metrics.samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`);
    expect(new Set(series).size).toBe(series.length);
    expect(metrics.find('process_start_time_seconds')).toHaveLength(1);
    expect(metrics.types.get('humiris_webhooks_consumer_lag')).toBe('gauge');
    expect(metrics.find('humiris_webhooks_consumer_lag').length).toBeGreaterThan(0);

    // Workers joining the groups make them rebalance: that is not an error.
    const errors = service.output().split('\n').filter((l) => l.includes('"level":50'));
    expect(errors.slice(0, 3)).toEqual([]);

    // A worker killed: started again, and delivery goes on with nothing lost.
    const victim = started.pids[1]!;
    process.kill(victim, 'SIGKILL');
    // Once the primary knows: a connection handed to a worker at the instant it dies is lost with it.
    await service.line(new RegExp(`"msg":"worker ${victim} exited unexpectedly \\(SIGKILL\\)`), 10_000);
    const second = await publish(100, 'second');
    await until('a worker started in place of the killed one', () => {
      const pids = pidsOf(service, 'worker started', 'workerPid');
      return [...pids].some((pid) => !started.pids.includes(pid)) ? true : undefined;
    }, 120_000);
    await until('every event of the second batch at every webhook', () => (received(second).size === second.length * webhooks.length ? true : undefined), 120_000);
    // At least once: a redelivery after the kill keeps its delivery id.
    const byDelivery = new Map<string, string>();
    for (const r of receiver.requests) {
      const pair = `${r.json?.id} ${r.headers['x-humiris-webhook']}`;
      const delivery = String(r.headers['x-humiris-delivery']);
      expect(byDelivery.get(delivery) ?? pair).toBe(pair);
      byDelivery.set(delivery, pair);
    }
    expect(new Set(byDelivery.values()).size).toBe((first.length + second.length) * webhooks.length);
    const replacement = [...pidsOf(service, 'worker started', 'workerPid')].find((pid) => !started.pids.includes(pid))!;
    await until('the new worker in the groups', async () => ((await groupMembers(`${env.WEBHOOKS_TOPIC_PREFIX}-webhooks-dispatcher`)).length === 2 ? true : undefined), 60_000);

    // SIGTERM to the primary stops every worker; exit 0.
    const sentAt = Date.now();
    service.child.kill('SIGTERM');
    expect(await service.exitsWithin(40_000), service.output().slice(-4_000)).toBe(true);
    const { code } = await service.exited;
    expect(code, service.output().slice(-4_000)).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(30_000);
    for (const pid of [primary, started.pids[0]!, replacement]) expect(isAlive(pid), String(pid)).toBe(false);
    expect(pidsOf(service, 'stopped')).toEqual(new Set([primary, started.pids[0]!, replacement]));
  }, 420_000);
});
