/*
 * `npm run chaos` (npm run build && vitest run --config chaos/vitest.config.ts): the same
 * scenarios as test/reliability/faults.test.ts at the larger sizes, printing the ledger
 * (produced / delivered / duplicates / missing) of each fault.
 *
 * CHAOS_SCENARIOS=kill9,kafka,kafka-long,mongo,receiver,sigterm,hanging,fanout,disable picks some; CHAOS_SCALE=0.1 shrinks them.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatLedger, startPrivateStack, type PrivateStack } from './harness.js';
import { CHAOS_SIZES, disableDuringRetries, hangingTenant, largeFanOut, kafkaOutage, kill9, mongoOutage, receiverOutage, sigterm, type ScenarioResult } from './scenarios.js';

const scale = Number(process.env.CHAOS_SCALE ?? 1);
const wanted = new Set((process.env.CHAOS_SCENARIOS ?? 'kill9,kafka,kafka-long,mongo,receiver,sigterm,hanging,fanout,disable').split(','));
const n = (count: number) => Math.max(10, Math.round(count * scale));
const say = (line: string) => process.stdout.write(`[chaos] ${line}\n`);
const results: ScenarioResult[] = [];
let stack: PrivateStack;

beforeAll(async () => {
  say('starting a private Kafka + MongoDB stack');
  stack = await startPrivateStack();
  say(`${stack.info.kafkaVersion} at ${stack.info.kafkaBrokers.join(',')}; ${stack.info.mongoVersion} at ${stack.info.mongodbUri}`);
});

afterAll(async () => {
  await stack?.down();
  say('');
  say('ledger per fault (two service processes sharing the consumer groups)');
  for (const r of results) {
    say(formatLedger(r.name, r.ledger, `unsettled ${r.unsettled}  ${JSON.stringify(r.facts)}`));
  }
});

const scenarios: Array<[string, () => Promise<ScenarioResult>]> = [
  ['kill9', () => kill9(stack, n(CHAOS_SIZES.kill9), say)],
  ['kafka', () => kafkaOutage(stack, n(CHAOS_SIZES.kafkaOutage), CHAOS_SIZES.outageMs, say)],
  ['kafka-long', () => kafkaOutage(stack, n(CHAOS_SIZES.kafkaOutage), CHAOS_SIZES.longOutageMs, say)],
  ['mongo', () => mongoOutage(stack, n(CHAOS_SIZES.mongoOutage), CHAOS_SIZES.outageMs, say)],
  ['receiver', () => receiverOutage(stack, n(CHAOS_SIZES.receiverOutage), CHAOS_SIZES.receiverOutageMs, say)],
  ['sigterm', () => sigterm(stack, n(CHAOS_SIZES.sigterm), say)],
  ['hanging', () => hangingTenant(stack, n(CHAOS_SIZES.hangingTenant), say)],
  ['fanout', () => largeFanOut(stack, n(CHAOS_SIZES.fanOutWebhooks), n(CHAOS_SIZES.fanOutEvents), say)],
  ['disable', () => disableDuringRetries(stack, n(CHAOS_SIZES.disable), say)],
];

for (const [name, runScenario] of scenarios) {
  it.runIf(wanted.has(name))(name, async () => {
    const result = await runScenario();
    results.push(result);
    if (result.ledger.missing > 0 || result.unsettled > 0) say(result.logs);
    expect(result.ledger.missing).toBe(0);
    expect(result.ledger.duplicatesWithOtherDeliveryId).toBe(0);
    expect(result.unsettled).toBe(0);
  });
}
