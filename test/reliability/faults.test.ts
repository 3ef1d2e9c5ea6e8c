import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killLeftoverServices, startPrivateStack, type PrivateStack } from '../../chaos/harness.js';
import { CI_SIZES, disableDuringRetries, kafkaOutage, largeFanOut, kill9, mongoOutage, receiverOutage, SHUTDOWN_DEADLINE_MS, sigterm, type ScenarioResult } from '../../chaos/scenarios.js';

/*
 * Two service processes (`node bin/humiris-webhooks.js serve` from dist: `npm test` builds
 * first) share the consumer groups on a PRIVATE Kafka + MongoDB stack, so stopping its servers
 * never disturbs the other test files on the shared one. The scenarios run one after another.
 */
const say = (line: string) => process.stderr.write(`[faults] ${line}\n`);
let stack: PrivateStack;
beforeAll(async () => {
  stack = await startPrivateStack();
}, 180_000);
afterAll(async () => {
  killLeftoverServices();
  await stack?.down();
});

/** Every event produced is accounted for; duplicates only under the same X-Humiris-Delivery. */
function expectNothingLost(result: ScenarioResult) {
  const context = `${JSON.stringify({ ledger: result.ledger, facts: result.facts })}\n${result.logs}`;
  expect(result.ledger.missing, context).toBe(0);
  expect(result.ledger.delivered, context).toBe(result.ledger.produced);
  expect(result.ledger.duplicatesWithOtherDeliveryId, context).toBe(0);
  expect(result.ledger.unexpected, context).toBe(0);
  expect(result.unsettled, context).toBe(0);
}

describe.sequential('faults, with two service processes sharing the consumer groups', () => {
  it('kill -9 of one process mid-run: every event still arrives, duplicates keep their delivery id', async () => {
    const result = await kill9(stack, CI_SIZES.kill9, say);
    expectNothingLost(result);
    expect(result.facts.killedBy).toBe('SIGKILL');
    expect(Number(result.facts.deliveredAtKill)).toBeLessThan(CI_SIZES.kill9);
  }, 180_000);

  it('Kafka broker stopped ~10 s and restarted: producers and consumers recover by themselves', async () => {
    const result = await kafkaOutage(stack, CI_SIZES.kafkaOutage, CI_SIZES.outageMs, say);
    expectNothingLost(result);
  }, 180_000);

  it('Kafka broker stopped ~70 s, past its producers\' connect retries: consumers keep their place in their groups and catch up within seconds', async () => {
    const result = await kafkaOutage(stack, CI_SIZES.kafkaOutage, CI_SIZES.longOutageMs, say);
    expectNothingLost(result);
    // A consumer that crashed would join as a new member, and wait out the session timeout (10 s)
    // of the member it replaces once the broker has loaded its group again.
    expect(Number(result.facts.caughtUpMs)).toBeLessThan(5_000);
    // A service stopped while Kafka is away exits within its shutdown deadline.
    expect(Number(result.facts.stoppedWhileAwayMs)).toBeGreaterThanOrEqual(0);
    expect(Number(result.facts.stoppedWhileAwayMs)).toBeLessThan(SHUTDOWN_DEADLINE_MS + 2_000);
  }, 300_000);

  it('MongoDB stopped ~10 s and restarted: the API answers 503 meanwhile, the pipeline resumes', async () => {
    const result = await mongoOutage(stack, CI_SIZES.mongoOutage, CI_SIZES.outageMs, say);
    expectNothingLost(result);
    expect(result.facts.apiStatusDuringOutage).toBe('503,503');
    expect(result.facts.apiCodeDuringOutage).toBe('unavailable,unavailable');
    expect(Number(result.facts.apiAnswerMs)).toBeLessThan(CI_SIZES.outageMs);
  }, 180_000);

  it('a receiver that is down for a while: its deliveries succeed on a later retry, the failure recorded clearly', async () => {
    const result = await receiverOutage(stack, CI_SIZES.receiverOutage, CI_SIZES.receiverOutageMs, say);
    expectNothingLost(result);
    expect(Number(result.facts.retriedDeliveries)).toBeGreaterThan(0);
    expect(result.facts).toMatchObject({
      firstAttemptError: 'connection refused',
      firstAttemptStatus: 0,
      lastAttemptStatus: 200,
      retriedStatus: 'succeeded',
    });
  }, 180_000);

  it('SIGTERM under load: nothing lost, exits within the request timeout plus a few seconds', async () => {
    const result = await sigterm(stack, CI_SIZES.sigterm, say);
    expectNothingLost(result);
    expect(result.facts.exitCode).toBe(0);
    expect(result.facts.stoppedLog).toBe(true);
    expect(Number(result.facts.exitMs)).toBeLessThan(SHUTDOWN_DEADLINE_MS);
  }, 180_000);

  it('a large fan-out: events of 20 KB and one of ~1 MiB reach each of 100 webhooks, counted per (event, webhook)', async () => {
    const result = await largeFanOut(stack, CI_SIZES.fanOutWebhooks, CI_SIZES.fanOutEvents, say);
    expectNothingLost(result);
    expect(result.ledger.produced).toBe((CI_SIZES.fanOutEvents + 1) * CI_SIZES.fanOutWebhooks);
    expect(Number(result.facts.largestBodyBytes)).toBeGreaterThan(1_000_000);
  }, 180_000);

  it('a webhook disabled while its deliveries wait for a retry: nothing sent meanwhile, all arrive as the paused attempt once enabled, none dead-lettered', async () => {
    const result = await disableDuringRetries(stack, CI_SIZES.disable, say);
    expectNothingLost(result);
    expect(result.facts).toMatchObject({ retryingAtDisable: CI_SIZES.disable, sendsWhileDisabled: 0, deliveriesWithAttempts: CI_SIZES.disable, attemptNumberGaps: 0, dlqRecords: 0 });
    expect(result.facts.shownPaused).toMatch(/^(\d+) of \1$/);
  }, 180_000);
});
