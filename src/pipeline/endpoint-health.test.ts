import { describe, expect, it } from 'vitest';
import { healthyState, withFailure, type HealthState } from '../domain/endpoint-health.js';
import { createLogger } from '../log/logger.js';
import { deliveryTask, webhookRecord } from '../../test/helpers/doubles.js';
import { EndpointHealth } from './endpoint-health.js';
import type { OperationalNotifier } from './operational-notifier.js';
import type { HealthStates, SendResult } from './ports.js';

const ok: SendResult = { ok: true, status: 200, bodyExcerpt: '', error: '', durationMs: 1 };

/** Streaks as a store holds them, and every read asked of it. */
function storeOf(stored: Record<string, HealthState> = {}) {
  const reads: string[][] = [];
  const states: HealthStates = {
    load: async (ids) => {
      reads.push([...ids]);
      return new Map(ids.flatMap((id) => (stored[id] ? [[id, stored[id]] as const] : [])));
    },
    save: async () => {},
  };
  return { states, reads };
}

function healthWith(states: HealthStates) {
  const notices: Array<{ type: string; webhookId: string }> = [];
  const notifier = { notify: (event: { type: string; webhookId: string }) => void notices.push(event), drain: async () => {} } as unknown as OperationalNotifier;
  const health = new EndpointHealth(states, { disableFor: async () => null }, notifier, { disableAfterMs: 60_000, logger: createLogger({ level: 'silent' }) });
  return { health, notices };
}

describe('EndpointHealth', () => {
  it('reads the stored streaks of a fan-out\'s webhooks in a few reads, not one each', async () => {
    const { states, reads } = storeOf();
    const { health } = healthWith(states);
    const hooks = Array.from({ length: 300 }, (_, i) => webhookRecord(`whk_${i}`));
    await Promise.all(hooks.map((hook) => health.attempted(hook, deliveryTask(hook.id), ok, new Date())));
    await health.close();
    expect(new Set(reads.flat())).toEqual(new Set(hooks.map((h) => h.id)));
    expect(reads.length).toBeLessThanOrEqual(2);
  });

  it('still takes in a streak another process stored: a success ends it and tells of the recovery', async () => {
    const failing = withFailure(healthyState(), { id: 'dlv_other:1', at: Date.now() - 1_000 }, 500, 'status 500');
    const { states, reads } = storeOf({ whk_failing: failing });
    const { health, notices } = healthWith(states);
    for (const id of ['whk_failing', 'whk_fine']) await health.attempted(webhookRecord(id), deliveryTask(id), ok, new Date());
    await health.close();
    expect(reads.flat().sort()).toEqual(['whk_failing', 'whk_fine']);
    expect(notices.map((n) => [n.type, n.webhookId])).toEqual([['webhook.recovered', 'whk_failing']]);
  });
});
