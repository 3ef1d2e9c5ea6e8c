import { describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import { BODY_GONE, Dispatcher } from './dispatcher.js';
import { EndpointLanes } from './endpoint-lanes.js';
import { CachedEventBodies } from './event-bodies.js';
import { deliveryTask as task, webhookRecord } from '../../test/helpers/doubles.js';
import type { DeliveryOutcome, DeliveryTask, SendResult, TaskQueue } from './ports.js';

const webhook = (id: string) => webhookRecord(id);

const OK: SendResult = { ok: true, status: 200, error: '', durationMs: 1, bodyExcerpt: '' };

describe('Dispatcher with endpoint lanes', () => {
  it('sends a hanging webhook\'s next task to the first retry topic as the same attempt, and keeps sending to the others', async () => {
    let now = 1_000_000;
    const sent: string[] = [];
    let release = (_: SendResult) => {};
    const sender = {
      send: ({ url }: { url: string }) => {
        sent.push(url);
        return url.includes('hang') ? new Promise<SendResult>((resolve) => (release = resolve)) : Promise.resolve(OK);
      },
    };
    const retries: Array<{ step: number; task: DeliveryTask }> = [];
    const queue: TaskQueue = {
      enqueue: async () => {},
      scheduleRetry: async (step, t) => void retries.push({ step, task: t }),
      deadLetter: async () => {},
      publishEvent: async () => {},
      publishEvents: async () => [],
    };
    const outcomes: DeliveryOutcome[] = [];
    const deliveries = { insertPending: async () => ({ existing: [] }), recordOutcomes: async (o: DeliveryOutcome[]) => void outcomes.push(...o) };
    const lanes = new EndpointLanes({ slowAfterMs: 1_000, slowForMs: 30_000, slowLimit: 1, now: () => now });
    const bodies = { bodyOf: async () => null };
    const dispatcher = new Dispatcher({ webhookFor: async (_w, id) => webhook(id) }, sender, deliveries, queue, bodies, {
      schedule: [{ label: '30s', delayMs: 30_000 }],
      userAgent: 'test',
      logger: createLogger({ level: 'silent' }),
      lanes,
      now: () => new Date(now),
    });

    const first = dispatcher.dispatch(task('hang', 1));
    await new Promise((resolve) => setImmediate(resolve));
    now += 1_500; // the first send has hung for longer than slowAfterMs
    await dispatcher.dispatch(task('hang', 2));
    await dispatcher.dispatch(task('fine', 3));

    expect(sent).toEqual(['https://hang.example.com/hook', 'https://fine.example.com/hook']);
    expect(retries).toEqual([{ step: 0, task: { ...task('hang', 2), dueAt: now + 30_000, heldBack: 'deferred: slow endpoint' } }]);
    expect(outcomes.map((o) => [o.deliveryId, o.status, o.lastError])).toEqual([
      ['dlv_hang_2', 'pending', 'deferred: slow endpoint'],
      ['dlv_fine_3', 'succeeded', undefined],
    ]);

    release({ ok: false, status: 0, error: 'timeout after 10000 ms', durationMs: 10_000, bodyExcerpt: '' });
    await first;
    expect(outcomes.map((o) => [o.deliveryId, o.status])).toEqual([
      ['dlv_hang_2', 'pending'],
      ['dlv_fine_3', 'succeeded'],
      ['dlv_hang_1', 'retrying'],
    ]);
  });

  it('holds a disabled webhook\'s task, then dead-letters it once it has waited a whole retry chain; a deleted one at once', async () => {
    let now = 1_000_000;
    const retries: DeliveryTask[] = [];
    const letters: Array<{ id: string; error: string; payload: string }> = [];
    const queue: TaskQueue = {
      enqueue: async () => {},
      scheduleRetry: async (_step, t) => void retries.push(t),
      deadLetter: async (l) => void letters.push({ id: l.task.deliveryId, error: l.lastError, payload: l.task.payload }),
      publishEvent: async () => {},
      publishEvents: async () => [],
    };
    const outcomes: DeliveryOutcome[] = [];
    const deliveries = { insertPending: async () => ({ existing: [] }), recordOutcomes: async (o: DeliveryOutcome[]) => void outcomes.push(...o) };
    const sender = { send: async () => OK };
    const disabled = { ...webhook('off'), status: 'disabled' as const };
    const dispatcher = new Dispatcher({ webhookFor: async (_w, id) => (id === 'off' ? disabled : null) }, sender, deliveries, queue, { bodyOf: async () => '{"stored":true}' }, {
      schedule: [{ label: '30s', delayMs: 30_000 }, { label: '5m', delayMs: 300_000 }],
      userAgent: 'test',
      logger: createLogger({ level: 'silent' }),
      lanes: new EndpointLanes({ slowAfterMs: 1_000, slowForMs: 30_000, slowLimit: 1 }),
      now: () => new Date(now),
    });

    await dispatcher.dispatch({ ...task('off', 1), payload: null });
    expect(retries).toEqual([{ ...task('off', 1), payload: null, dueAt: now + 30_000, pausedSince: now, heldBack: 'paused: webhook disabled' }]);
    expect(outcomes.at(-1)).toMatchObject({ status: 'pending', lastError: 'paused: webhook disabled', nextAttemptAt: new Date(now + 30_000) });
    const recorded = outcomes.length;

    // Still disabled when it comes back: waits again, and the store is not written again.
    now += 30_000;
    await dispatcher.dispatch(retries[0]!);
    expect(retries).toHaveLength(2);
    expect(outcomes).toHaveLength(recorded);

    now += 300_000; // paused as long as the whole chain
    await dispatcher.dispatch(retries[1]!);
    expect(retries).toHaveLength(2);
    expect(outcomes.at(-1)).toMatchObject({ status: 'failed', lastError: 'webhook disabled' });
    expect(letters).toEqual([{ id: 'dlv_off_1', error: 'webhook disabled', payload: '{"stored":true}' }]);

    await dispatcher.dispatch(task('gone', 2));
    expect(letters.at(-1)).toEqual({ id: 'dlv_gone_2', error: 'webhook deleted', payload: '{}' });
  });
});

describe('Dispatcher, a task whose event body is gone', () => {
  it('ends it failed without a send, instead of failing it again and again (its hour was removed after WEBHOOKS_RETENTION)', async () => {
    const sent: string[] = [];
    const letters: string[] = [];
    const queue: TaskQueue = {
      enqueue: async () => {},
      scheduleRetry: async () => {},
      deadLetter: async (l) => void letters.push(l.task.deliveryId),
      publishEvent: async () => {},
      publishEvents: async () => [],
    };
    const outcomes: DeliveryOutcome[] = [];
    const deliveries = { insertPending: async () => ({ existing: [] }), recordOutcomes: async (o: DeliveryOutcome[]) => void outcomes.push(...o) };
    const dispatcher = new Dispatcher(
      { webhookFor: async (_w, id) => (id === 'gone' ? null : webhook(id)) },
      { send: async ({ url }) => (sent.push(url), OK) },
      deliveries,
      queue,
      { bodyOf: async () => null },
      { schedule: [{ label: '30s', delayMs: 30_000 }], userAgent: 'test', logger: createLogger({ level: 'silent' }), lanes: new EndpointLanes({ slowAfterMs: 1_000, slowForMs: 30_000, slowLimit: 1 }) },
    );
    await dispatcher.dispatch({ ...task('late', 1), attempt: 4, payload: null });
    await dispatcher.dispatch({ ...task('gone', 2), payload: null }, { inHand: true });
    expect(sent).toEqual([]);
    expect(outcomes.map((o) => [o.deliveryId, o.number, o.status, o.lastError])).toEqual([
      ['dlv_late_1', 4, 'failed', BODY_GONE],
      ['dlv_gone_2', 1, 'failed', BODY_GONE],
    ]);
    // A dead letter carries the event, and there is none left to carry.
    expect(letters).toEqual([]);
  });
});

describe('Dispatcher, a task without its body', () => {
  it("reads the body through the cache in its delivery's hour: the store is given the task's delivery id", async () => {
    const asked: Array<[string, string, string | undefined]> = [];
    const store = { bodyOf: async (workspace: string, eventId: string, deliveryId?: string) => (asked.push([workspace, eventId, deliveryId]), '{"stored":true}') };
    const sent: string[] = [];
    const queue: TaskQueue = { enqueue: async () => {}, scheduleRetry: async () => {}, deadLetter: async () => {}, publishEvent: async () => {}, publishEvents: async () => [] };
    const dispatcher = new Dispatcher(
      { webhookFor: async (_w, id) => webhook(id) },
      { send: async ({ body }) => (sent.push(body), OK) },
      { insertPending: async () => ({ existing: [] }), recordOutcomes: async () => {} },
      queue,
      new CachedEventBodies(store),
      { schedule: [{ label: '30s', delayMs: 30_000 }], userAgent: 'test', logger: createLogger({ level: 'silent' }), lanes: new EndpointLanes({ slowAfterMs: 1_000, slowForMs: 30_000, slowLimit: 1 }) },
    );
    const t = { ...task('a', 1), payload: null };
    await dispatcher.dispatch(t);
    expect(asked).toEqual([[t.workspace, t.eventId, 'dlv_a_1']]);
    expect(sent).toEqual(['{"stored":true}']);
  });
});

describe('Dispatcher, the order of an outcome and the next step', () => {
  const failing: SendResult = { ok: false, status: 500, error: 'HTTP 500', durationMs: 1, bodyExcerpt: '' };
  function recording() {
    const steps: string[] = [];
    const queue: TaskQueue = {
      enqueue: async () => {},
      scheduleRetry: async (step, t) => void steps.push(`retry ${step} attempt ${t.attempt}`),
      deadLetter: async (letter) => void steps.push(`dead letter ${letter.task.deliveryId}`),
      publishEvent: async () => {},
      publishEvents: async () => [],
    };
    const deliveries = { insertPending: async () => ({ existing: [] }), recordOutcomes: async (o: DeliveryOutcome[]) => void steps.push(...o.map((x) => `outcome ${x.status}`)) };
    const dispatcher = new Dispatcher(
      { webhookFor: async (_w, id) => (id === 'gone' ? null : webhook(id)) },
      { send: async () => failing },
      deliveries,
      queue,
      { bodyOf: async () => null },
      { schedule: [{ label: '30s', delayMs: 30_000 }], userAgent: 'test', logger: createLogger({ level: 'silent' }), lanes: new EndpointLanes({ slowAfterMs: 1_000, slowForMs: 30_000, slowLimit: 1 }) },
    );
    return { steps, dispatcher };
  }

  it('stores the outcome of a task read from Kafka before it queues the retry: the task is read again if that fails', async () => {
    const { steps, dispatcher } = recording();
    await dispatcher.dispatch(task('a', 1));
    expect(steps).toEqual(['outcome retrying', 'retry 0 attempt 2']);
  });

  it('queues the next step of a task in hand before it stores the outcome: a stored outcome means the next step is queued', async () => {
    const { steps, dispatcher } = recording();
    await dispatcher.dispatch(task('a', 1), { inHand: true });
    expect(steps).toEqual(['retry 0 attempt 2', 'outcome retrying']);
    steps.length = 0;
    await dispatcher.dispatch(task('gone', 2), { inHand: true });
    expect(steps).toEqual(['dead letter dlv_gone_2', 'outcome failed']);
  });
});
