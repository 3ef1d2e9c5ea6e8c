import { timestampDate } from '@bufbuild/protobuf/wkt';
import { ConnectError, Code } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { outcomeOf } from '../../src/pipeline/delivery-state.js';
import type { DeliveryStatus } from '../../src/pipeline/ports.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { until } from '../helpers/wait.js';

// One retry a second after the first attempt: a delivery to a failing endpoint is `failed` within
// seconds; a send that hangs keeps its delivery where it stands (pending, or retrying) meanwhile.
const api = await startTestApi('delivery-counts', { WEBHOOKS_RETRY_SCHEDULE: '1s', WEBHOOKS_REQUEST_TIMEOUT: '60s' }, [...ALL_ROLES]);
const HOUR = 3_600_000;

type Kind = 'ok' | 'fail' | 'retry' | 'hang';
/** What the receiver answers each delivery, by the kind its event carries and the attempt. */
const answer = (kind: Kind, attempt: number) => {
  if (kind === 'ok') return { status: 200 };
  if (kind === 'fail' || (kind === 'retry' && attempt === 1)) return { status: 500 };
  return 'hang' as const;
};

// Started after the service, so stopped before it: its hanging sends end rather than hold the service's drain.
const receiver = await startReceiver((request) => answer(request.json?.data?.kind as Kind, Number(request.headers['x-humiris-attempt'])));

type Counts = Record<DeliveryStatus, number>;
const zero = (): Counts => ({ succeeded: 0, retrying: 0, pending: 0, failed: 0 });

describe('GetDeliveryCounts', () => {
  it("counts a webhook's deliveries per hour by status as they stand, and a repeated or late outcome changes nothing", async () => {
    const key = await api.newKey();
    const created = await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events: ['email.received'] });
    expect(created.status).toBe(201);
    const webhookId = created.json.id as string;
    const publish = async (kind: Kind) => expect((await api.rest('POST', '/v1/events', key, { type: 'email.received', data: { kind } })).status).toBe(200);

    /** The webhook's deliveries as ListDeliveries shows them, once there are `count` with `ready` holding for all. */
    const listed = (count: number, ready: (statuses: string[]) => boolean) =>
      until(`${count} deliveries listed`, async () => {
        const page = await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries?limit=100`, key);
        const data = page.json.data as Array<{ id: string; status: DeliveryStatus; created_at: string }>;
        return data.length === count && ready(data.map((d) => d.status)) ? data : undefined;
      }, 60_000);

    // Ended first (their sends are done), then two whose sends hang: one retrying, one pending.
    for (const kind of ['ok', 'ok', 'ok', 'fail', 'fail'] as const) await publish(kind);
    await listed(5, (s) => s.every((x) => x === 'succeeded' || x === 'failed'));
    await publish('retry');
    await publish('hang');
    const standing = ['failed', 'failed', 'pending', 'retrying', 'succeeded', 'succeeded', 'succeeded'];
    const deliveries = await listed(7, (s) => JSON.stringify([...s].sort()) === JSON.stringify(standing));

    // Expected per hour, from the deliveries themselves (a run across an hour's end splits them).
    const expected = new Map<number, Counts>();
    for (const d of deliveries) {
      const hour = Math.floor(Date.parse(d.created_at) / HOUR) * HOUR;
      const counts = expected.get(hour) ?? zero();
      counts[d.status]++;
      expected.set(hour, counts);
    }

    const restCounts = async () => {
      const res = await api.rest('GET', `/v1/webhooks/${webhookId}/delivery-counts`, key);
      expect(res.status).toBe(200);
      return res.json.hours as Array<{ start_time: string } & Counts>;
    };
    const matches = (hours: Array<{ start_time: string } & Counts>) =>
      hours.every(({ start_time, ...counts }) => JSON.stringify(counts) === JSON.stringify(expected.get(Date.parse(start_time)) ?? zero()));
    // Within about a second of the last change.
    const hours = await until('the counts of every delivery', async () => {
      const got = await restCounts();
      return matches(got) ? got : undefined;
    }, 10_000);
    expect(hours).toHaveLength(24);
    const now = Date.now();
    expect(Date.parse(hours[23]!.start_time)).toBe(Math.floor(now / HOUR) * HOUR);
    expect(Date.parse(hours[0]!.start_time)).toBe(Math.floor(now / HOUR) * HOUR - 23 * HOUR);
    const total = hours.reduce((sum, h) => ({ succeeded: sum.succeeded + h.succeeded, retrying: sum.retrying + h.retrying, pending: sum.pending + h.pending, failed: sum.failed + h.failed }), zero());
    expect(total).toEqual({ succeeded: 3, retrying: 1, pending: 1, failed: 2 });

    // Outcomes written again, and late: a succeeded delivery's first attempt as retrying, a failed
    // one's last as failed again, by another writer (another process's store).
    const store = new DeliveryStore(api.db);
    const ofStatus = (status: DeliveryStatus) => deliveries.find((d) => d.status === status)!;
    const record = async (id: string, number: number, status: DeliveryStatus) => {
      const [d] = await store.byIds([id]);
      return outcomeOf({ ...d!, deliveryId: id, attempt: number }, status, new Date());
    };
    await store.recordOutcomes([await record(ofStatus('succeeded').id, 1, 'retrying'), await record(ofStatus('failed').id, 2, 'failed'), await record(ofStatus('pending').id, 0, 'pending')]);
    await store.close();
    expect(matches(await restCounts())).toBe(true);

    // Connect (JSON) answers the same, for the number of hours asked.
    const connect = api.webhooks('connect-json-h1', key);
    const two = await connect.getDeliveryCounts({ webhookId, hours: 2 });
    expect(two.hours).toHaveLength(2);
    expect(two.hours.map((h) => timestampDate(h.startTime!).getTime())).toEqual(hours.slice(22).map((h) => Date.parse(h.start_time)));
    expect(two.hours.map(({ succeeded, retrying, pending, failed }) => ({ succeeded, retrying, pending, failed }))).toEqual(
      hours.slice(22).map(({ succeeded, retrying, pending, failed }) => ({ succeeded, retrying, pending, failed })),
    );
    expect((await connect.getDeliveryCounts({ webhookId, hours: 168 })).hours).toHaveLength(168);
  });

  it('answers not_found for an unknown webhook or another workspace\'s, and invalid_argument for hours out of range', async () => {
    const [key, other] = [await api.newKey(), await api.newKey()];
    const created = await api.rest('POST', '/v1/webhooks', key, { url: 'http://127.0.0.1:9/hook', events: ['*'] });
    const webhookId = created.json.id as string;

    for (const [route, who] of [[`/v1/webhooks/whk_${'0'.repeat(24)}/delivery-counts`, key], [`/v1/webhooks/${webhookId}/delivery-counts`, other], ['/v1/webhooks/nope/delivery-counts', key]] as const) {
      const res = await api.rest('GET', route, who);
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe('not_found');
    }
    for (const hours of [0, 169, -1]) {
      const res = await api.rest('GET', `/v1/webhooks/${webhookId}/delivery-counts?hours=${hours}`, key);
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code: 'invalid_argument', field: 'hours', message: 'hours must be from 1 to 168 (7 days); absent means 24' });
    }
    const connect = api.webhooks('connect-json-h1', key);
    await expect(connect.getDeliveryCounts({ webhookId, hours: 500 })).rejects.toSatisfy((e) => e instanceof ConnectError && e.code === Code.InvalidArgument && e.rawMessage.includes('1 to 168'));
    const one = await api.rest('GET', `/v1/webhooks/${webhookId}/delivery-counts?hours=1`, key);
    expect(one.json.hours).toEqual([{ start_time: new Date(Math.floor(Date.now() / HOUR) * HOUR).toISOString().replace('.000Z', 'Z'), succeeded: 0, retrying: 0, pending: 0, failed: 0 }]);
    expect((await api.rest('GET', `/v1/webhooks/${webhookId}/delivery-counts`)).status).toBe(401);
  });
});
