import { describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import { Semaphore } from './semaphore.js';
import { InHandDispatch, type InHandDispatcher } from './in-hand.js';
import type { DeliveryTask } from './ports.js';
import { deliveryTask as task } from '../../test/helpers/doubles.js';

/** A dispatcher whose sends end when the test says so. */
function heldDispatcher() {
  const calls: Array<{ task: DeliveryTask; inHand: boolean }> = [];
  const finish = new Map<string, (error?: Error) => void>();
  const dispatcher: InHandDispatcher = {
    dispatch: (t, { inHand }) => {
      calls.push({ task: t, inHand });
      return new Promise<void>((resolve, reject) => finish.set(t.deliveryId, (error) => (error ? reject(error) : resolve())));
    },
  };
  return { dispatcher, calls, finish: (id: string, error?: Error) => finish.get(id)!(error) };
}

const logger = createLogger({ level: 'silent' });
const notSlow = { isSlowNow: () => false };
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('InHandDispatch', () => {
  it('takes the tasks of partitions this process owns while it has slots, and leaves the others for Kafka', async () => {
    const { dispatcher, calls, finish } = heldDispatcher();
    const produced: DeliveryTask[] = [];
    const slots = new Semaphore(2);
    const inHand = new InHandDispatch(dispatcher, { enqueue: async (t) => void produced.push(...t) }, { owns: (t) => t.webhookId !== 'whk_other', lanes: notSlow, slots, logger });

    const { rest, done } = inHand.take([task('whk_a'), task('whk_other'), task('whk_b'), task('whk_c')]);

    // whk_c finds both slots taken: it goes through Kafka like whk_other, whose partition is another process's.
    expect(rest.map((t) => t.webhookId)).toEqual(['whk_other', 'whk_c']);
    expect(calls.map((c) => [c.task.webhookId, c.inHand])).toEqual([
      ['whk_a', true],
      ['whk_b', true],
    ]);
    let concluded = false;
    void done!.then(() => (concluded = true));
    finish('dlv_whk_a_1');
    await tick();
    expect(concluded).toBe(false);
    finish('dlv_whk_b_1');
    await done;
    expect(produced).toEqual([]);
    // Both slots are free again.
    expect(slots.tryAcquire() && slots.tryAcquire()).toBe(true);
  });

  it("keeps a reserve for workspaces with few tasks in hand, so another's backlog holding every slot does not send theirs through Kafka", async () => {
    const { dispatcher, calls, finish } = heldDispatcher();
    const slots = new Semaphore(2);
    const inHand = new InHandDispatch(dispatcher, { enqueue: async () => {} }, { owns: () => true, lanes: notSlow, slots, reserve: { slots: 2, perWorkspace: 1 }, logger });
    const of = (workspace: string, webhookId: string, n = 1) => ({ ...task(webhookId, n), workspace });

    // The flooding workspace takes both slots; beyond them, its tasks go through Kafka.
    expect(inHand.take([of('flood', 'whk_f1'), of('flood', 'whk_f2'), of('flood', 'whk_f3')]).rest.map((t) => t.webhookId)).toEqual(['whk_f3']);
    // Two quiet workspaces each get one task in hand from the reserve, and no more.
    expect(inHand.take([of('quiet', 'whk_q1'), of('quiet', 'whk_q2')]).rest.map((t) => t.webhookId)).toEqual(['whk_q2']);
    expect(inHand.take([of('calm', 'whk_c1')]).rest).toEqual([]);
    // The reserve is used up: a third quiet workspace waits its turn through Kafka.
    expect(inHand.take([of('still', 'whk_s1')]).rest.map((t) => t.webhookId)).toEqual(['whk_s1']);
    expect(calls.map((c) => c.task.webhookId)).toEqual(['whk_f1', 'whk_f2', 'whk_q1', 'whk_c1']);

    // A reserved slot comes back to the reserve, not to the shared slots.
    finish('dlv_whk_q1_1');
    await tick();
    expect(slots.tryAcquire()).toBe(false);
    expect(inHand.take([of('still', 'whk_s1')]).rest).toEqual([]);
  });

  it('leaves the task of a webhook known to answer slowly for Kafka, without taking a slot', () => {
    const { dispatcher, calls } = heldDispatcher();
    const slots = new Semaphore(1);
    const lanes = { isSlowNow: (_workspace: string, webhookId: string) => webhookId === 'whk_slow' };
    const inHand = new InHandDispatch(dispatcher, { enqueue: async () => {} }, { owns: () => true, lanes, slots, logger });
    expect(inHand.take([task('whk_slow')])).toEqual({ rest: [task('whk_slow')] });
    expect(calls).toEqual([]);
    expect(slots.tryAcquire()).toBe(true);
  });

  it('answers nothing to wait for when it takes no task', () => {
    const { dispatcher } = heldDispatcher();
    const inHand = new InHandDispatch(dispatcher, { enqueue: async () => {} }, { owns: () => false, lanes: notSlow, slots: new Semaphore(4), logger });
    expect(inHand.take([task('whk_a')])).toEqual({ rest: [task('whk_a')] });
  });

  it('sends a task matched again while in hand once, and both matches wait for that send', async () => {
    const { dispatcher, calls, finish } = heldDispatcher();
    const inHand = new InHandDispatch(dispatcher, { enqueue: async () => {} }, { owns: () => true, lanes: notSlow, slots: new Semaphore(4), logger });
    const first = inHand.take([task('whk_a')]);
    const again = inHand.take([task('whk_a')]);
    expect(again.rest).toEqual([]);
    expect(calls).toHaveLength(1);
    let waited = false;
    void again.done!.then(() => (waited = true));
    await tick();
    expect(waited).toBe(false);
    finish('dlv_whk_a_1');
    await Promise.all([first.done, again.done]);
    expect(waited).toBe(true);
  });

  it('produces a task it could not conclude to Kafka, and says so when Kafka would not take it either', async () => {
    const { dispatcher, finish } = heldDispatcher();
    const produced: DeliveryTask[] = [];
    let kafkaDown = false;
    const slots = new Semaphore(4);
    const inHand = new InHandDispatch(
      dispatcher,
      {
        enqueue: async (t) => {
          if (kafkaDown) throw new Error('Kafka is down');
          produced.push(...t);
        },
      },
      { owns: () => true, lanes: notSlow, slots, logger },
    );
    const { done } = inHand.take([task('whk_a')]);
    finish('dlv_whk_a_1', new Error('the dispatcher is stopping'));
    await done;
    expect(produced.map((t) => t.deliveryId)).toEqual(['dlv_whk_a_1']);

    kafkaDown = true;
    const second = inHand.take([task('whk_b')]);
    finish('dlv_whk_b_1', new Error('the dispatcher is stopping'));
    await expect(second.done).rejects.toThrow('Kafka is down');
    // Its slot is back, and the delivery can be taken again.
    expect(inHand.take([task('whk_b')]).rest).toEqual([]);
    expect([slots.tryAcquire(), slots.tryAcquire(), slots.tryAcquire(), slots.tryAcquire()]).toEqual([true, true, true, false]);
  });
});
