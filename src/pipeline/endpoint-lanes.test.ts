import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../test/helpers/wait.js';
import { DEFERRED_SLOW_ENDPOINT, DEFERRED_WORKSPACE_BUSY, EndpointLanes, laneLimits, type Admission, type SendSlot } from './endpoint-lanes.js';

const made: EndpointLanes[] = [];
afterEach(() => made.splice(0).forEach((l) => l.close()));

function lanes(limits: { slowLimit?: number; workspaceLimit?: number; processLimit?: number; workspaceQueue?: number } = {}) {
  const clock = { now: 1_000_000 };
  const l = new EndpointLanes({ slowAfterMs: 1_000, slowForMs: 30_000, slowLimit: 2, ...limits, now: () => clock.now });
  made.push(l);
  return { l, clock };
}

/** Admits synchronously-known answers; a task that waits shows as 'waiting' until it settles. */
function track(p: Promise<Admission>) {
  const state: { admission?: Admission } = {};
  p.then((a) => (state.admission = a)).catch(() => {});
  return state;
}
const flush = () => new Promise((resolve) => setImmediate(resolve));
const slotOf = (a: Admission | undefined): SendSlot => {
  if (!a || !('slot' in a)) throw new Error(`no slot: ${JSON.stringify(a)}`);
  return a.slot;
};

describe('EndpointLanes', () => {
  it('tells a webhook known to answer slowly: a send running past slowAfterMs, or one that did within slowForMs', async () => {
    const { l, clock } = lanes({ workspaceLimit: 100 });
    expect(l.isSlowNow('ws', 'never-sent')).toBe(false);
    const quick = slotOf(await l.admit('ws', 'quick'));
    clock.now += 10;
    l.finish(quick);
    expect(l.isSlowNow('ws', 'quick')).toBe(false);

    const hanging = slotOf(await l.admit('ws', 'hanging'));
    expect(l.isSlowNow('ws', 'hanging')).toBe(false);
    clock.now += 1_000;
    expect(l.isSlowNow('ws', 'hanging')).toBe(true);
    l.finish(hanging);
    clock.now += 29_000;
    expect(l.isSlowNow('ws', 'hanging')).toBe(true);
    clock.now += 1_000;
    expect(l.isSlowNow('ws', 'hanging')).toBe(false);
  });

  it('gives a webhook that has not answered yet only slowLimit sends from its first request; the rest wait', async () => {
    const { l } = lanes({ slowLimit: 2, workspaceLimit: 100 });
    const tasks = Array.from({ length: 5 }, () => track(l.admit('ws', 'new')));
    await flush();
    expect(tasks.map((t) => (t.admission ? ('slot' in t.admission ? 'sending' : 'deferred') : 'waiting'))).toEqual([
      'sending',
      'sending',
      'waiting',
      'waiting',
      'waiting',
    ]);
    expect(l.counts('ws')).toEqual({ sending: 2, waiting: 3 });
  });

  it('lets a webhook that answers quickly use its workspace share, and hands slots out in FIFO order', async () => {
    const { l, clock } = lanes({ slowLimit: 1, workspaceLimit: 3 });
    const first = track(l.admit('ws', 'fast'));
    const queued = [track(l.admit('ws', 'fast')), track(l.admit('ws', 'fast')), track(l.admit('ws', 'fast')), track(l.admit('ws', 'fast'))];
    await flush();
    expect(queued.every((t) => t.admission === undefined)).toBe(true);
    clock.now += 20;
    l.finish(slotOf(first.admission)); // answered in 20 ms: up to the workspace limit now
    await flush();
    expect(queued.map((t) => t.admission !== undefined)).toEqual([true, true, true, false]);
    l.finish(slotOf(queued[0]!.admission));
    await flush();
    expect(queued[3]!.admission).toHaveProperty('slot');
  });

  it('bounds a workspace however many webhooks it has, and other workspaces keep their slots', async () => {
    const { l } = lanes({ slowLimit: 2, workspaceLimit: 10, processLimit: 100 });
    const hanging = Array.from({ length: 100 }, (_, i) => track(l.admit('a', `hook-${i}`)));
    await flush();
    expect(hanging.filter((t) => t.admission && 'slot' in t.admission)).toHaveLength(10);
    expect(l.counts('a')).toEqual({ sending: 10, waiting: 90 });
    const other = await l.admit('b', 'fine');
    expect(other).toHaveProperty('slot');
  });

  it('defers a slow webhook\'s next task at once, and its waiting ones once it turns slow', async () => {
    const { l, clock } = lanes({ slowLimit: 1 });
    const first = await l.admit('ws', 'hang');
    const waiting = track(l.admit('ws', 'hang'));
    clock.now += 1_000; // the first send has run for slowAfterMs
    expect(await l.admit('ws', 'hang')).toEqual({ deferred: DEFERRED_SLOW_ENDPOINT });
    await new Promise((resolve) => setTimeout(resolve, 250)); // a sweep
    expect(waiting.admission).toEqual({ deferred: DEFERRED_SLOW_ENDPOINT });
    // Slow for slowForMs after a slow send: still one at a time.
    clock.now += 9_000;
    l.finish(slotOf(first));
    expect(await l.admit('ws', 'hang')).toHaveProperty('slot');
    expect(await l.admit('ws', 'hang')).toEqual({ deferred: DEFERRED_SLOW_ENDPOINT });
  });

  it('lets a task of a slow webhook that is under its own share wait for its busy workspace', async () => {
    const { l, clock } = lanes({ slowLimit: 5, workspaceLimit: 3 });
    await l.admit('ws', 'slowish');
    const y1 = slotOf(await l.admit('ws', 'y'));
    await l.admit('ws', 'y');
    clock.now += 10;
    l.finish(y1);
    const y3 = slotOf(await l.admit('ws', 'y')); // the workspace keeps turning over
    clock.now += 990; // 'slowish' has had a send running for 1 s: slow, but holds 1 of its 5
    const waiting = track(l.admit('ws', 'slowish'));
    await new Promise((resolve) => setTimeout(resolve, 250)); // a sweep
    expect(waiting.admission).toBeUndefined();
    l.finish(y3);
    await flush();
    expect(waiting.admission).toHaveProperty('slot');
  });

  it('defers the waiting tasks of a workspace whose sends all stopped finishing', async () => {
    const { l, clock } = lanes({ slowLimit: 5, workspaceLimit: 3 });
    for (let i = 0; i < 3; i++) await l.admit('a', `hook-${i}`);
    const waiting = track(l.admit('a', 'hook-3')); // its own webhook is idle: it waits for the workspace
    await flush();
    expect(waiting.admission).toBeUndefined();
    clock.now += 1_000;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(waiting.admission).toEqual({ deferred: DEFERRED_WORKSPACE_BUSY });
    expect(await l.admit('a', 'hook-4')).toEqual({ deferred: DEFERRED_WORKSPACE_BUSY });
  });

  it('lets a burst wait after a pause in a workspace that has a few hanging sends', async () => {
    const { l, clock } = lanes({ slowLimit: 2, workspaceLimit: 4 });
    await l.admit('ws', 'hang');
    const fast = await l.admit('ws', 'fast');
    clock.now += 10;
    l.finish(slotOf(fast));
    clock.now += 5_000; // nothing else for a while; the hanging send still runs
    const burst = Array.from({ length: 6 }, () => track(l.admit('ws', 'fast')));
    await new Promise((resolve) => setTimeout(resolve, 250)); // a sweep
    expect(burst.map((t) => (t.admission ? ('slot' in t.admission ? 'sending' : 'deferred') : 'waiting'))).toEqual([
      'sending',
      'sending',
      'sending',
      'waiting',
      'waiting',
      'waiting',
    ]);
  });

  it('defers past a long queue only when the workspace is not sending quickly', async () => {
    const { l, clock } = lanes({ slowLimit: 1, workspaceLimit: 1, workspaceQueue: 2 });
    const sending = await l.admit('ws', 'a');
    const queued = [track(l.admit('ws', 'b')), track(l.admit('ws', 'c'))];
    // A burst into a workspace that has not answered yet: past the queue, deferred.
    expect(await l.admit('ws', 'd')).toEqual({ deferred: DEFERRED_WORKSPACE_BUSY });
    clock.now += 5;
    l.finish(slotOf(sending)); // it answers quickly: a long queue may wait now
    await flush();
    const more = track(l.admit('ws', 'e'));
    await flush();
    expect(queued[0]!.admission).toHaveProperty('slot');
    expect(more.admission).toBeUndefined();
  });

  it('never defers a task that cannot be deferred; close gives waiting tasks back', async () => {
    const { l, clock } = lanes({ slowLimit: 1 });
    await l.admit('ws', 'hang');
    clock.now += 2_000;
    const kept = l.admit('ws', 'hang', false);
    await new Promise((resolve) => setTimeout(resolve, 250));
    l.close();
    await expect(kept).rejects.toThrow(/stopping/);
  });

  it('bounds the sends of the whole process, and takes workspaces in turn when it is full', async () => {
    const { l } = lanes({ slowLimit: 10, workspaceLimit: 10, processLimit: 2 });
    const a1 = await l.admit('a', 'x');
    await l.admit('a', 'x');
    const queued = [track(l.admit('a', 'x')), track(l.admit('b', 'y'))];
    await flush();
    expect(queued.every((t) => t.admission === undefined)).toBe(true);
    l.finish(slotOf(a1));
    await flush();
    // 'a' had a turn already; 'b' waited since: either may go, but only one does.
    expect(queued.filter((t) => t.admission !== undefined)).toHaveLength(1);
  });
});

describe('EndpointLanes on its default clock', () => {
  const busyFor = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };

  it('does not take a webhook for slow when this process held its answer up, not the webhook', async () => {
    const l = new EndpointLanes(laneLimits(500));
    made.push(l);
    const slot = slotOf(await l.admit('ws', 'healthy'));
    // The answer came at once, but this process was busy elsewhere (or not scheduled) for 1.2 s.
    busyFor(1_200);
    l.finish(slot);
    expect(l.isSlowNow('ws', 'healthy')).toBe(false);
    // While held up, a send in flight is not taken for slow either.
    const next = slotOf(await l.admit('ws', 'healthy'));
    busyFor(1_200);
    expect(l.isSlowNow('ws', 'healthy')).toBe(false);
    l.finish(next);
  });

  it('still takes a webhook for slow when its send runs past slowAfterMs while this process is free', async () => {
    const l = new EndpointLanes(laneLimits(500));
    made.push(l);
    const slot = slotOf(await l.admit('ws', 'slow'));
    const started = performance.now();
    // A loaded machine runs the checks a little late, which loop time leaves out: allow for it.
    await until('the webhook taken for slow', () => (l.isSlowNow('ws', 'slow') ? true : undefined), 5_000);
    // The lanes count on Date.now(), in whole milliseconds: up to one less on this clock.
    expect(performance.now() - started).toBeGreaterThanOrEqual(999);
    expect(l.isSlowNow('ws', 'slow')).toBe(true);
    l.finish(slot);
    expect(l.isSlowNow('ws', 'slow')).toBe(true);
  });
});
