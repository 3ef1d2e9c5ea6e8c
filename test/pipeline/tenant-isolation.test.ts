import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { startHangingServer } from '../../chaos/harness.js';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { useKafka } from '../helpers/servers.js';
import { settle } from '../helpers/wait.js';

/*
 * One workspace's endpoints hang (sockets that accept and never answer) while it gets a burst of
 * events; another workspace's deliveries must go out as fast as before. Measured end to end:
 * event produced → the receiver has the request.
 */

const REQUEST_TIMEOUT_MS = 5_000;
const MAX_IN_FLIGHT = 500;
const api = await startTestApi(
  'isolation',
  { WEBHOOKS_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`, WEBHOOKS_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) },
  [...ALL_ROLES],
);
const kafka = await useKafka('isolation-clients');
const producer = await kafka.producer();
const prefix = api.config.topicPrefix;
const now = () => performance.timeOrigin + performance.now();

/** Accepts connections and never answers; counts how many are open at most. Closed after the file's tests. */
async function hangingServer() {
  const server = await startHangingServer();
  afterAll(() => server.close());
  return server;
}

async function createWebhooks(key: string, urls: string[], events: string[]): Promise<string[]> {
  const create = async (url: string) => {
    const res = await api.rest('POST', '/v1/webhooks', key, { url, events });
    expect(res.status).toBe(201);
    return res.json.id as string;
  };
  // The first alone: it creates the workspace's records that later creates share.
  const ids = [await create(urls[0]!)];
  for (let i = 1; i < urls.length; i += 10) ids.push(...(await Promise.all(urls.slice(i, i + 10).map(create))));
  return ids;
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
}

describe('one workspace\'s hanging endpoints', () => {
  it('leave another workspace\'s p99 within 2x its baseline, and hold a bounded share of send slots from the first request', async () => {
    const hang = await hangingServer();
    const receiver = await startReceiver();
    const [keyA, keyB] = [await api.newKey(), await api.newKey()];
    const wsA = (await api.keys.verify(keyA))!.workspace;
    const wsB = (await api.keys.verify(keyB))!.workspace;
    const hangingHooks = await createWebhooks(keyA, Array.from({ length: 100 }, (_, i) => `${hang.url}/hook-${i}`), ['email.received']);
    // Two webhooks on two types, events alternating: each delivery is a sample of its own.
    const hooksB = [...(await createWebhooks(keyB, [receiver.url], ['sms.sent'])), ...(await createWebhooks(keyB, [`${receiver.url}?calls`], ['call.ended']))];
    await settle(1_200); // subscription changes apply within 1 s

    // B's deliveries: event id → when it was produced; the receiver has the arrival times.
    const producedAt = new Map<string, number>();
    let seq = 0;
    const sendB = async (label: string) => {
      const n = seq++;
      const id = `evt_b_${label}_${n}`;
      producedAt.set(id, now());
      const type = n % 2 === 0 ? 'sms.sent' : 'call.ended';
      await producer.send({ topic: `${prefix}.events.${type}`, messages: [{ key: wsB, value: JSON.stringify({ id, workspace: wsB, data: { n } }) }] });
    };
    const steadyB = async (label: string, ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        await sendB(label);
        await settle(25);
      }
    };
    // A delivery that never arrived counts as infinitely late.
    const latencies = (label: string) => {
      const arrived = new Map(receiver.requests.filter((r) => String(r.json?.id).startsWith(`evt_b_${label}_`)).map((r) => [`${r.json.id}|${r.headers['x-humiris-webhook']}`, r.at]));
      const expected = [...producedAt].filter(([id]) => id.startsWith(`evt_b_${label}_`));
      return expected.map(([id, at]) => (arrived.get(`${id}|${hooksB[Number(id.split('_').pop()) % 2]}`) ?? Infinity) - at);
    };

    // Warm up, then the baseline.
    await steadyB('warm', 1_000);
    await steadyB('base', 3_000);
    await receiver.waitFor(producedAt.size, 20_000);

    // A's burst: 6 events within 0.6 s, each to its 100 hanging webhooks (600 sends that never end,
    // more than the process's 500 slots), then 2 more events a second while B's are measured.
    const burstA = async (n: number, from: number) => {
      const messages = Array.from({ length: n }, (_, i) => ({
        key: wsA,
        value: JSON.stringify({ id: `evt_a_${from + i}`, workspace: wsA, data: { n: from + i } }),
      }));
      await producer.send({ topic: `${prefix}.events.email.received`, messages });
    };
    const during = steadyB('during', 4_000);
    for (let i = 0; i < 6; i++) {
      await burstA(1, i);
      await settle(100);
    }
    for (let i = 0; i < 4; i++) {
      await settle(800);
      await burstA(1, 6 + 2 * i);
      await settle(100);
      await burstA(1, 7 + 2 * i);
    }
    await during;
    await receiver.waitFor(producedAt.size, 20_000).catch(() => {});

    const base = p99(latencies('base'));
    const loaded = p99(latencies('during'));
    // A regression guard that holds on a busy CI machine (before the send slots: 66 ms → 8.9 s). The
    // promised figure, within 2× the baseline, is measured on a quiet machine by bench scenario 5.
    const allowed = Math.max(5 * base, 2_500);
    console.log(
      `B p99 baseline ${base.toFixed(1)} ms (${latencies('base').length} deliveries), during A's hang ${loaded.toFixed(1)} ms ` +
        `(${latencies('during').length}); allowed ${allowed.toFixed(1)} ms; A's connections at most ${hang.peak} of ${hang.accepted}`,
    );
    expect(loaded).toBeLessThanOrEqual(allowed);
    // A's hanging sends never held more than its workspace share (a quarter of the process's slots).
    expect(hang.peak).toBeLessThanOrEqual(MAX_IN_FLIGHT / 4);

    // A's tasks that did not get a slot wait for their retry, and say why.
    const list = await api.rest('GET', `/v1/webhooks/${hangingHooks[99]}/deliveries`, keyA);
    expect(list.status).toBe(200);
    const deferred = (list.json.data as any[]).find((d) => String(d.last_error).startsWith('deferred: '));
    expect(deferred, JSON.stringify(list.json.data.slice(0, 3))).toBeDefined();
    const one = await api.rest('GET', `/v1/webhooks/${hangingHooks[99]}/deliveries/${deferred.id}`, keyA);
    expect(one.json).toMatchObject({ status: 'pending', attempt_count: 0 });
    expect(one.json.last_error).toMatch(/^deferred: (slow endpoint|workspace at its send limit)$/);
    expect(Date.parse(one.json.next_attempt_at)).toBeGreaterThan(Date.now());
  }, 120_000);

  it('shows why a task waits: a hanging webhook\'s tasks beyond its few slots are pending, "deferred: slow endpoint", with their next attempt', async () => {
    const hang = await hangingServer();
    const key = await api.newKey();
    const workspace = (await api.keys.verify(key))!.workspace;
    const [hook] = await createWebhooks(key, [`${hang.url}/one`], ['card.capture']);
    await settle(1_200);
    const messages = Array.from({ length: 20 }, (_, i) => ({ key: workspace, value: JSON.stringify({ id: `evt_c_${i}`, workspace, data: { i } }) }));
    const sentAt = Date.now();
    await producer.send({ topic: `${prefix}.events.card.capture`, messages });

    // It never answered: 10 sends (WEBHOOKS_MAX_IN_FLIGHT / 50) hang; the other 10 wait, then are
    // deferred once its sends have run 1 s.
    let deferred: any[] = [];
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && deferred.length < 10; await settle(250)) {
      const list = await api.rest('GET', `/v1/webhooks/${hook}/deliveries?page_size=50`, key);
      deferred = (list.json.data as any[]).filter((d) => d.last_error === 'deferred: slow endpoint');
    }
    expect(hang.peak).toBe(MAX_IN_FLIGHT / 50);
    expect(deferred).toHaveLength(10);
    const one = (await api.rest('GET', `/v1/webhooks/${hook}/deliveries/${deferred[0].id}`, key)).json;
    expect(one).toMatchObject({ status: 'pending', attempt_count: 0, last_error: 'deferred: slow endpoint' });
    // Back through the first retry topic (30 s) as the same attempt.
    expect(Date.parse(one.next_attempt_at)).toBeGreaterThanOrEqual(sentAt + 30_000);
  }, 60_000);
});
