import type { Db } from 'mongodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useMongo, watchReads } from '../helpers/servers.js';
import { ID_PATTERNS, newDeliveryId } from '../../src/domain/ids.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { outcomeBatching } from '../../src/pipeline/endpoint-lanes.js';
import { fanOutPartOf, partitionOf } from '../../src/store/partitions.js';
import type { DeliveryOutcome, DeliveryRecord, DeliveryStatus } from '../../src/pipeline/ports.js';

let store: DeliveryStore;
let db: Db;
beforeAll(async () => {
  db = (await useMongo('deliveries')).db;
  store = new DeliveryStore(db);
  await store.ensureIndexes();
});

const base = new Date('2026-03-01T00:00:00.000Z');
let serial = 0;

function delivery(webhookId: string, secondsAfter: number, eventType = 'message.received'): DeliveryRecord {
  const createdAt = new Date(base.getTime() + secondsAfter * 1_000);
  serial++;
  return {
    id: `dlv_${String(serial).padStart(24, '0')}`,
    workspace: 'ws_store',
    webhookId,
    eventId: `evt_store${serial}`,
    eventType,
    agent: null,
    status: 'pending',
    attemptCount: 0,
    nextAttemptAt: createdAt,
    lastResponseStatus: 0,
    lastError: '',
    payload: `{"n":${serial}}`,
    attempts: [],
    createdAt,
    updatedAt: createdAt,
  };
}

/** A delivery matched at `at`, so stored in that hour. */
function deliveryAt(webhookId: string, at: Date): DeliveryRecord {
  return { ...delivery(webhookId, 0), id: newDeliveryId(at.getTime()), createdAt: at, nextAttemptAt: at, updatedAt: at };
}

function outcome(d: DeliveryRecord, number: number, status: DeliveryStatus, responseStatus: number): DeliveryOutcome {
  const recordedAt = new Date(d.createdAt.getTime() + number * 60_000);
  return {
    id: `out_${d.id}_${number}`,
    deliveryId: d.id,
    workspace: d.workspace,
    webhookId: d.webhookId,
    eventId: d.eventId,
    number,
    status,
    nextAttemptAt: status === 'retrying' ? new Date(recordedAt.getTime() + 30_000) : null,
    recordedAt,
    attempt: {
      number,
      startedAt: recordedAt,
      durationMs: 4,
      responseStatus,
      responseBodyExcerpt: `answer ${responseStatus}`,
      error: responseStatus >= 300 ? `HTTP ${responseStatus}` : '',
      manual: false,
    },
  };
}

describe('DeliveryStore', () => {
  it('folds the outcomes into the delivery it reads, whatever order they were written in', async () => {
    const d = delivery('whk_fold', 0);
    await store.insertPending([d], 't:0:1', 'digest');
    // The later attempt's outcome lands first, as a slow instance's write would.
    await store.recordOutcomes([outcome(d, 2, 'succeeded', 200)]);
    await store.recordOutcomes([outcome(d, 1, 'retrying', 503)]);
    const got = await store.get('ws_store', 'whk_fold', d.id);
    expect(got).toMatchObject({ status: 'succeeded', attemptCount: 2, lastResponseStatus: 200, lastError: '', payload: d.payload });
    expect(got!.attempts.map((a) => a.responseStatus)).toEqual([503, 200]);
    expect(got!.attempts[0]!.responseBodyExcerpt).toBe('answer 503');
    expect(await store.get('other_ws', 'whk_fold', d.id)).toBeNull();
  });

  it('stores a repeated outcome once', async () => {
    const d = delivery('whk_repeat', 0);
    await store.insertPending([d], 't:0:2', 'digest');
    const o = outcome(d, 1, 'succeeded', 200);
    await store.recordOutcomes([o]);
    await store.recordOutcomes([o]);
    expect((await store.get('ws_store', 'whk_repeat', d.id))!.attempts).toHaveLength(1);
  });

  it('stores an outcome without the fields a reader can fill in, and reads outcomes stored with them the same', async () => {
    const lean = delivery('whk_lean', 0);
    const full = delivery('whk_lean', 1);
    await store.insertPending([lean, full], 't:0:lean', 'digest');
    const ok = outcome(lean, 1, 'succeeded', 200);
    ok.attempt!.responseBodyExcerpt = '';
    await store.recordOutcomes([ok]);
    const partition = partitionOf(lean.id, lean.webhookId);
    const stored = await db.collection(`delivery_outcomes_${partition}`).findOne({ _id: ok.id as never });
    // FerretDB spends its time per field written: a success's empty error, the attempt's number
    // (the outcome's own), no next attempt and no manual flag are not written.
    expect(stored).not.toBeNull();
    expect(Object.keys(stored!).sort()).toEqual(['_id', 'attempt', 'deliveryId', 'eventId', 'number', 'recordedAt', 'status', 'webhookId', 'workspace']);
    expect(Object.keys(stored!.attempt).sort()).toEqual(['durationMs', 'responseStatus', 'startedAt']);
    // An outcome as earlier versions stored it, every field written.
    const before = outcome(full, 1, 'retrying', 503);
    const { id, ...fields } = before;
    await db.collection(`delivery_outcomes_${partition}`).insertOne({ _id: id as never, ...fields });
    const got = await store.get('ws_store', 'whk_lean', lean.id);
    expect(got).toMatchObject({ status: 'succeeded', attemptCount: 1, lastResponseStatus: 200, lastError: '', nextAttemptAt: null });
    expect(got!.attempts).toEqual([{ ...ok.attempt }]);
    const old = await store.get('ws_store', 'whk_lean', full.id);
    expect(old).toMatchObject({ status: 'retrying', attemptCount: 1, lastResponseStatus: 503, lastError: 'HTTP 503', nextAttemptAt: before.nextAttemptAt });
    expect(old!.attempts).toEqual([before.attempt]);
    const page = await store.list('ws_store', 'whk_lean', {}, 10, '');
    expect(page.items.map((d) => [d.id, d.status, d.nextAttemptAt, d.lastError])).toEqual([
      [full.id, 'retrying', before.nextAttemptAt, 'HTTP 503'],
      [lean.id, 'succeeded', null, ''],
    ]);
  });

  it('finds a body another process stored in an hour this one has not listed yet', async () => {
    const reader = new DeliveryStore(db);
    // The listing is kept for a second: this one is taken before the hour below exists.
    expect(await reader.bodyOf('ws_store', 'evt_nothing_here')).toBeNull();
    const fresh = deliveryAt('whk_new_hour', new Date(Date.UTC(2031, 0, 1, 7)));
    await store.insertPending([fresh], 't:0:new-hour', 'digest');
    expect(await reader.bodyOf('ws_store', fresh.eventId)).toBe(fresh.payload);
  });

  it('returns an existing (webhook, event) pair of the same record again as it stands', async () => {
    const d = delivery('whk_dup', 0);
    await store.insertPending([d], 't:0:3', 'digest');
    await store.recordOutcomes([outcome(d, 1, 'failed', 410)]);
    const again = { ...delivery('whk_dup', 5), eventId: d.eventId };
    const fresh = delivery('whk_dup', 6);
    const { existing, duplicateOf } = await store.insertPending([again, fresh], 't:0:3', 'digest');
    expect(duplicateOf).toBeUndefined();
    expect(existing).toHaveLength(1);
    expect(existing[0]).toMatchObject({ id: d.id, source: 't:0:3', status: 'failed', attemptCount: 1 });
    expect(await store.get('ws_store', 'whk_dup', fresh.id)).toMatchObject({ status: 'pending', attemptCount: 0 });
  });

  it("reads a task's body in its delivery's hour, not in every hour newer than it", async () => {
    // On FerretDB each hour read scans that hour's bodies: a retry a day later read up to 24 of them.
    const watched = await watchReads(db.databaseName);
    const watchedStore = new DeliveryStore(watched.db);
    const inHour = (hour: number) => deliveryAt(`whk_hour_${hour}`, new Date(Date.UTC(2024, 5, 1, hour)));
    const old = inHour(1);
    for (const d of [old, inHour(5), inHour(9)]) await watchedStore.insertPending([d], `t:9:${d.id}`, 'digest');
    const before = watched.reads.length;
    expect(await watchedStore.bodyOf('ws_store', old.eventId, old.id)).toBe(old.payload);
    expect(watched.reads.slice(before).map((r) => r.collection)).toEqual(['event_payloads_2024060101']);
    // Without its delivery: every hour, newest first, until found.
    expect(await watchedStore.bodyOf('ws_store', old.eventId)).toBe(old.payload);
  });

  it('tells another record of a stored event which record came first, without reading the deliveries or outcomes', async () => {
    // A client of its own that notes every read, so the test sees what the store read.
    const watched = await watchReads(db.databaseName);
    const watchedStore = new DeliveryStore(watched.db);
    const d = delivery('whk_twice', 0);
    await watchedStore.insertPending([d], 't:7:1', 'digest');
    const before = watched.reads.length;
    const second = await watchedStore.insertPending([{ ...delivery('whk_twice', 1), eventId: d.eventId }], 't:7:2', 'digest');
    const reads = watched.reads.slice(before).map((r) => r.collection);
    expect(second).toEqual({ existing: [], duplicateOf: 't:7:1' });
    expect(reads.filter((name) => /^(deliveries|delivery_outcomes)_/.test(name))).toEqual([]);
    expect((await store.get('ws_store', 'whk_twice', d.id))!.id).toBe(d.id);
  });

  it('looks up the records read again after a restart together: a few reads of the hour for all of them, not three each', async () => {
    // On FerretDB each of these reads scans the hour's shard, and a restart reads again every record
    // whose offset was not yet committed: one scan each stalled the matcher for every workspace.
    const watched = await watchReads(db.databaseName);
    const watchedStore = new DeliveryStore(watched.db);
    const records = Array.from({ length: 40 }, (_, n) => ({ d: delivery('whk_again', n), source: `t:8:${n}` }));
    for (const { d, source } of records) await watchedStore.insertPending([d], source, 'digest');
    await watchedStore.recordOutcomes([outcome(records[0]!.d, 1, 'succeeded', 200)]);
    const before = watched.reads.length;
    const again = await Promise.all(
      records.map(({ d, source }, n) => watchedStore.insertPending([{ ...delivery('whk_again', n), eventId: d.eventId, payload: d.payload }], source, 'digest')),
    );
    const reads = watched.reads.slice(before).map((r) => r.collection);
    expect(again.map((a) => a.existing.map((e) => [e.id, e.source, e.status]))).toEqual(records.map(({ d, source }, n) => [[d.id, source, n === 0 ? 'succeeded' : 'pending']]));
    // Queued again as they stand, so each carries its event's body.
    expect(again.map((a) => a.existing[0]!.payload)).toEqual(records.map(({ d }) => d.payload));
    // Whatever arrives while a look-up runs shares the next one.
    expect(reads.filter((name) => name.startsWith('deliveries_')).length).toBeLessThanOrEqual(3);
    expect(reads.filter((name) => name.startsWith('delivery_outcomes_')).length).toBeLessThanOrEqual(3);
    // Their bodies too: each record finds that it stored its body itself.
    expect(reads.filter((name) => name.startsWith('event_payloads_')).length).toBeLessThanOrEqual(3);
    await watchedStore.close();
  });

  it("stores a fan-out's finished attempts in one insert per shard once they stop coming, when outcomes gather as the service has them", async () => {
    const watched = await watchReads(db.databaseName);
    const inserts: Array<{ at: number; collection: string; documents: number }> = [];
    watched.db.client.on('commandStarted', (event) => {
      if (event.commandName === 'insert' && String(event.command.insert).startsWith('delivery_outcomes_')) {
        inserts.push({ at: performance.now(), collection: String(event.command.insert), documents: (event.command.documents as unknown[]).length });
      }
    });
    const batching = outcomeBatching(500);
    const gathering = new DeliveryStore(watched.db, { outcomeBatch: batching });
    const first = { ...delivery('whk_gather_0', 0), eventId: 'evt_gather.1' };
    const fan = Array.from({ length: 200 }, (_, n) => ({ ...first, id: newDeliveryId(first.createdAt.getTime()), webhookId: `whk_gather_${n}` }));
    const sent: DeliveryRecord[] = [];
    await gathering.insertPending(fan, 't:11:1', 'digest', (part) => sent.push(...part));
    expect(sent).toHaveLength(200);
    // Attempts end a few at a time over 60 ms, as a fan-out's sends answer.
    const started = performance.now();
    const recorded: Array<Promise<void>> = [];
    for (let n = 0; n < 200; n += 10) {
      for (const d of sent.slice(n, n + 10)) recorded.push(gathering.recordOutcomes([outcome(d, 1, 'succeeded', 200)]));
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const lastEnded = performance.now();
    await Promise.all(recorded);
    // None written between the sends: one insert per shard, after the last attempt ended.
    const shards = new Set(sent.map((d) => partitionOf(d.id, d.webhookId)));
    expect(lastEnded - started).toBeLessThan(batching.maxDelayMs);
    expect(inserts.filter((i) => i.at < lastEnded)).toEqual([]);
    expect(inserts.map((i) => i.collection).sort()).toEqual([...shards].map((p) => `delivery_outcomes_${p}`).sort());
    expect(inserts.reduce((sum, i) => sum + i.documents, 0)).toBe(200);
    expect((await gathering.settlement('evt_gather.')).byStatus).toEqual({ pending: 0, succeeded: 200, retrying: 0, failed: 0 });
    await gathering.close();
  });

  it('hands a large fan-out on in parts as they land, each delivery once, and the body stored once', async () => {
    const first = delivery('whk_fan_0', 0);
    const fan = Array.from({ length: 300 }, (_, n) => ({ ...first, id: newDeliveryId(first.createdAt.getTime()), webhookId: `whk_fan_${n}` }));
    const parts: DeliveryRecord[][] = [];
    const { existing } = await store.insertPending(fan, 't:3:1', 'digest', (part) => parts.push(part));
    expect(existing).toEqual([]);
    // By each webhook's part: about 5%, 10%, 20%, 40% and 25%.
    const sizes = [0, 1, 2, 3, 4].map((n) => fan.filter((d) => fanOutPartOf(d.webhookId) === n).length);
    expect(sizes.every((size) => size > 0)).toBe(true);
    expect(parts.map((p) => p.length)).toEqual(sizes);
    expect(parts.map((p) => [...new Set(p.map((d) => fanOutPartOf(d.webhookId)))])).toEqual([[0], [1], [2], [3], [4]]);
    const handed = parts.flat();
    // Each webhook once, under the id it is stored with: the first part's own, the later parts' their pack's.
    expect(handed.map((d) => d.webhookId).sort()).toEqual(fan.map((d) => d.webhookId).sort());
    expect(parts[0]!.every((d) => fan.some((f) => f.id === d.id))).toBe(true);
    expect(new Set(handed.map((d) => d.id)).size).toBe(300);
    expect(handed.every((d) => ID_PATTERNS.delivery.test(d.id) && partitionOf(d.id, d.webhookId) === partitionOf(fan[0]!.id, d.webhookId))).toBe(true);
    expect(await store.bodyOf('ws_store', first.eventId)).toBe(first.payload);
    for (const d of [parts[0]![0]!, parts[1]![7]!, parts[4]![parts[4]!.length - 1]!]) {
      expect(await store.get('ws_store', d.webhookId, d.id)).toMatchObject({ id: d.id, webhookId: d.webhookId, status: 'pending', payload: first.payload });
      // Another webhook's id, or an id of the same pack that is not stored, is not found.
      expect(await store.get('ws_store', 'whk_fan_x', d.id)).toBeNull();
    }
    expect(await store.get('ws_store', parts[4]![0]!.webhookId, `${parts[4]![0]!.id.slice(0, -3)}zzz`)).toBeNull();

    // The same record again (a restart before its offset was committed): nothing is handed on, all are found.
    const again: DeliveryRecord[][] = [];
    const second = await store.insertPending(fan.map((d) => ({ ...d, id: newDeliveryId(first.createdAt.getTime()) })), 't:3:1', 'digest', (part) => again.push(part));
    expect(again).toEqual([]);
    expect(second.existing.map((d) => d.id).sort()).toEqual(handed.map((d) => d.id).sort());
    expect(second.existing.every((d) => d.source === 't:3:1' && d.status === 'pending')).toBe(true);
  });

  it('stores the body alone first when no webhook of a large fan-out falls in its first part, and finds every delivery when the record is matched again', async () => {
    const first = { ...delivery('whk_nf', 0), eventId: 'evt_no_first_part' };
    const names = Array.from({ length: 400 }, (_, n) => `whk_nf_${String(n).padStart(3, '0')}`).filter((n) => fanOutPartOf(n) !== 0).slice(0, 60);
    const fan = () => names.map((webhookId) => ({ ...first, id: newDeliveryId(first.createdAt.getTime()), webhookId }));
    const parts: DeliveryRecord[][] = [];
    expect((await store.insertPending(fan(), 't:16:1', 'digest', (part) => parts.push(part))).existing).toEqual([]);
    expect(parts.flat().map((d) => d.webhookId).sort()).toEqual(names);
    expect(parts.every((part) => part.length > 0)).toBe(true);
    expect(await store.bodyOf('ws_store', first.eventId)).toBe(first.payload);
    // Matched again, here with ten webhooks fewer (50, so this match alone would store them one by one): all found, in their packs.
    const again: DeliveryRecord[][] = [];
    const second = await store.insertPending(fan().slice(10), 't:16:1', 'digest', (part) => again.push(part));
    expect(again).toEqual([]);
    const handed = new Map(parts.flat().map((d) => [d.webhookId, d.id]));
    expect(second.existing.map((d) => [d.webhookId, d.id]).sort()).toEqual(names.slice(10).map((n) => [n, handed.get(n)]).sort());
    expect((await store.settlement(first.eventId)).total).toBe(60);
  });

  it('stores the later parts of a large fan-out as packs that every read sees through, one document per part and shard', async () => {
    const first = { ...delivery('whk_pk_0', 0), eventId: 'evt_packed' };
    const fan = Array.from({ length: 1_000 }, (_, n) => ({ ...first, id: newDeliveryId(first.createdAt.getTime()), webhookId: `whk_pk_${String(n).padStart(4, '0')}` }));
    const handed: DeliveryRecord[] = [];
    await store.insertPending(fan, 't:6:1', 'digest', (part) => handed.push(...part));
    const idOf = new Map(handed.map((d) => [d.webhookId, d.id]));
    expect(idOf.size).toBe(1_000);

    // A document for each delivery of the first part, one per shard for each later part (4 parts, 4 shards).
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    let singles = 0;
    let packs = 0;
    for (const name of names) {
      if (name.startsWith('deliveries_')) singles += await db.collection(name).countDocuments({ eventId: 'evt_packed' });
      if (name.startsWith('delivery_packs_')) packs += await db.collection(name).countDocuments({ eventId: 'evt_packed' });
    }
    expect(singles).toBe(fan.filter((d) => fanOutPartOf(d.webhookId) === 0).length);
    expect(packs).toBeLessThanOrEqual(16);
    expect(packs).toBeGreaterThan(1);

    const failed = handed.filter((_, i) => i % 10 === 0);
    await store.recordOutcomes(failed.map((d) => outcome(d, 1, 'failed', 500)));
    expect((await store.settlement('evt_packed')).byStatus).toEqual({ pending: 900, succeeded: 0, retrying: 0, failed: 100 });
    const byIds = await store.byIds(handed.slice(400, 700).map((d) => d.id));
    expect(byIds.map((d) => d.id).sort()).toEqual(handed.slice(400, 700).map((d) => d.id).sort());
    expect(byIds.every((d) => d.status === (failed.some((f) => f.id === d.id) ? 'failed' : 'pending'))).toBe(true);
    const late = failed[failed.length - 1]!;
    const list = await store.list('ws_store', late.webhookId, {}, 10, '');
    expect(list.items.map((d) => [d.id, d.status])).toEqual([[late.id, 'failed']]);
    expect((await store.list('ws_store', late.webhookId, { status: 'failed' }, 10, '')).items.map((d) => d.id)).toEqual([late.id]);
    const dead: string[] = [];
    for await (const chunk of store.failedDeliveries('ws_store', late.webhookId, new Date(0), new Date(base.getTime() + 3_600_000))) dead.push(...chunk.map((d) => d.id));
    expect(dead).toEqual([late.id]);
    await store.flushCounts();
    const counts = await store.countsByHour('ws_store', late.webhookId, 24, base.getTime() + 60_000);
    expect(counts.reduce((n, h) => n + h.failed, 0)).toBe(1);
  });

  it('pages a webhook whose deliveries are stored one by one and in packs newest first, each once', async () => {
    const webhook = 'whk_pk_mixed_50';
    const others = Array.from({ length: 99 }, (_, n) => `whk_pk_mixed_${String(n).padStart(2, '0')}`);
    const all: string[] = [];
    // Events in turn: alone (one document), and with 99 other webhooks (in the later part, a pack).
    for (let n = 0; n < 30; n++) {
      const d = { ...delivery(webhook, 0), createdAt: new Date(base.getTime() + Math.floor(n / 3) * 1_000) };
      d.id = newDeliveryId(d.createdAt.getTime());
      const records = n % 2 === 0 ? [d] : [d, ...others.map((w) => ({ ...d, id: newDeliveryId(d.createdAt.getTime()), webhookId: w }))];
      let mine = d.id;
      await store.insertPending(records, `t:11:${n}`, 'digest', (part) => (mine = part.find((p) => p.webhookId === webhook)?.id ?? mine));
      all.push(mine);
    }
    const want = [...all].sort().reverse();
    for (const size of [1, 4, 7, 30]) {
      const seen: string[] = [];
      let cursor = '';
      do {
        const page = await store.list('ws_store', webhook, {}, size, cursor);
        seen.push(...page.items.map((d) => d.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen, `pages of ${size}`).toEqual(want);
    }
  });

  it('stores each delivery of a large fan-out once when two processes match its record at the same time, or when its webhooks changed between matches', async () => {
    const first = { ...delivery('whk_pr_0', 0), eventId: 'evt_pack_race' };
    const fan = (count: number, skip = -1) =>
      Array.from({ length: count }, (_, n) => n)
        .filter((n) => n !== skip)
        .map((n) => ({ ...first, id: newDeliveryId(first.createdAt.getTime()), webhookId: `whk_pr_${String(n).padStart(3, '0')}` }));
    const queued: DeliveryRecord[][] = [[], []];
    const other = new DeliveryStore(db);
    const both = await Promise.all([store, other].map((s, p) => s.insertPending(fan(400), 't:12:1', 'digest', (part) => queued[p]!.push(...part))));
    // What each will send: what it handed on, and what it found stored and pending.
    const sent = (p: number, found: DeliveryRecord[]) => [...queued[p]!, ...found.filter((d) => d.status === 'pending')];
    const ids = new Map<string, Set<string>>();
    for (const [p, found] of both.map((r) => r.existing).entries()) for (const d of sent(p, found)) ids.set(d.webhookId, (ids.get(d.webhookId) ?? new Set()).add(d.id));
    expect(ids.size).toBe(400);
    // Sent twice perhaps, as after any restart, but always under the one id stored.
    expect([...ids.values()].every((s) => s.size === 1)).toBe(true);
    expect((await store.settlement('evt_pack_race')).total).toBe(400);

    // Matched again with one webhook gone and one new: the parts hold other webhooks now.
    const later: DeliveryRecord[] = [];
    const again = await store.insertPending([...fan(400, 123), { ...fan(1)[0]!, webhookId: 'whk_pr_new' }], 't:12:1', 'digest', (part) => later.push(...part));
    expect((await store.settlement('evt_pack_race')).total).toBe(401);
    const stored = new Map([...ids].map(([w, s]) => [w, [...s][0]!]));
    expect(again.existing.every((d) => stored.get(d.webhookId) === d.id)).toBe(true);
    expect(again.existing.length + later.length).toBeGreaterThanOrEqual(399);
  });

  it('stores each webhook of a large fan-out once when its record is matched again after its webhooks changed, even where the first match stopped between parts', async () => {
    const first = { ...delivery('whk_mv_0', 0), eventId: 'evt_pack_moved' };
    const fan = (names: string[]) => names.map((webhookId) => ({ ...first, id: newDeliveryId(first.createdAt.getTime()), webhookId }));
    const names = Array.from({ length: 300 }, (_, n) => `whk_mv_${String(n).padStart(3, '0')}`);
    // Every stored delivery of the event (all pending), by webhook.
    const perWebhook = async () => {
      const ids = new Map<string, string[]>();
      const all = (await store.settlement('evt_pack_moved')).unsettled.map((u) => u.id);
      for (const d of await store.byIds(all)) ids.set(d.webhookId, [...(ids.get(d.webhookId) ?? []), d.id]);
      return ids;
    };
    await store.insertPending(fan(names), 't:13:1', 'digest', () => {});
    // The process stopped before its last part: its packs are not stored.
    for (const c of await db.listCollections({ name: /^delivery_packs_/ }, { nameOnly: true }).toArray()) {
      await db.collection(c.name).deleteMany({ eventId: 'evt_pack_moved', webhookIds: { $in: names.filter((n) => fanOutPartOf(n) === 4) } });
    }
    // Matched again with one webhook more, early in the order: every later webhook moves one place on.
    await store.insertPending(fan(['whk_mv_0055', ...names]), 't:13:1', 'digest', () => {});
    const ids = await perWebhook();
    expect([...ids.keys()].sort()).toEqual(['whk_mv_0055', ...names].sort());
    expect([...ids].filter(([, list]) => list.length > 1)).toEqual([]);
    expect((await store.settlement('evt_pack_moved')).total).toBe(301);

    // And again with one webhook fewer, early in the order: every later webhook moves one place back.
    const third = await store.insertPending(fan(names.filter((n) => n !== 'whk_mv_010')), 't:13:1', 'digest', () => {});
    expect(third.existing.map((d) => d.id).sort()).toEqual(names.filter((n) => n !== 'whk_mv_010').map((n) => ids.get(n)![0]!).sort());
    expect((await store.settlement('evt_pack_moved')).total).toBe(301);
  });

  it('stores each webhook once when two processes with different webhooks match one record at the same moment, on either side of the fan-out that is stored in packs', async () => {
    // What a matcher sends for one match: the parts handed on, the new deliveries under their own
    // ids, and what the same record stored before and left pending (as matcher.ts does).
    const matchAs = async (s: DeliveryStore, records: DeliveryRecord[], source: string) => {
      const handed: DeliveryRecord[] = [];
      const { existing } = await s.insertPending(records, source, 'digest', (part) => handed.push(...part));
      const known = new Set([...existing, ...handed].map((d) => d.webhookId));
      return [...handed, ...records.filter((d) => !known.has(d.webhookId)), ...existing.filter((d) => d.source === source && d.status === 'pending')];
    };
    const cases: Array<[string, string[], string[]]> = [];
    const names = (prefix: string, count: number) => Array.from({ length: count }, (_, n) => `whk_${prefix}_${String(n).padStart(3, '0')}`);
    const moved = names('tw', 300);
    // One webhook deleted early in the order and one created late while both match.
    cases.push(['evt_two_moved', moved, [...moved.filter((n) => n !== 'whk_tw_010'), 'whk_tw_2995']]);
    // The fan-out crosses FANOUT_PART meanwhile: one process stores packs, the other would not.
    const crossing = names('tx', 60);
    cases.push(['evt_two_crossing', crossing, crossing.slice(10)]);
    type Spied = { insertPacks: (...args: unknown[]) => Promise<number[]>; readStoredPairs: (...args: unknown[]) => Promise<unknown[]> };
    const proto = DeliveryStore.prototype as unknown as Spied;
    for (const [name, mine, theirs] of cases) {
      // The first process stores its first part; the other then matches the whole record before the
      // first goes on to its later parts, or looks up what is stored and writes only once the first is done.
      for (const waits of [false, true]) {
        const eventId = `${name}_${waits}`;
        const first = { ...delivery('whk_tw', 0), eventId };
        const fan = (list: string[]) => list.map((webhookId) => ({ ...first, id: newDeliveryId(first.createdAt.getTime()), webhookId }));
        const one = new DeliveryStore(db);
        const other = new DeliveryStore(db);
        let theirMatch: Promise<DeliveryRecord[]> | undefined;
        let looked!: () => void;
        const lookedUp = new Promise<void>((resolve) => (looked = resolve));
        let ours: Promise<DeliveryRecord[]> | undefined;
        vi.spyOn(one as unknown as Spied, 'insertPacks').mockImplementation(async (...args: unknown[]) => {
          theirMatch ??= matchAs(other, fan(theirs), 't:15:1');
          await (waits ? lookedUp : theirMatch);
          return proto.insertPacks.apply(one, args);
        });
        vi.spyOn(other as unknown as Spied, 'readStoredPairs').mockImplementation(async (...args: unknown[]) => {
          const found = await proto.readStoredPairs.apply(other, args);
          if (waits) {
            looked();
            await ours;
          }
          return found;
        });
        ours = matchAs(one, fan(mine), 't:15:1');
        let sent: DeliveryRecord[];
        try {
          sent = [...(await ours), ...((await theirMatch) ?? [])];
        } finally {
          vi.restoreAllMocks();
        }
        const ids = new Map<string, Set<string>>();
        for (const d of sent) ids.set(d.webhookId, (ids.get(d.webhookId) ?? new Set()).add(d.id));
        const every = [...new Set([...mine, ...theirs])].sort();
        expect([...ids.keys()].sort(), eventId).toEqual(every);
        expect([...ids].filter(([, set]) => set.size > 1), eventId).toEqual([]);
        const stored = await one.byIds((await one.settlement(eventId)).unsettled.map((u) => u.id));
        expect(stored.map((d) => d.webhookId).sort(), eventId).toEqual(every);
      }
    }
  });

  it('finds a webhook another process stored one by one while this one found it nowhere, instead of refusing the match', async () => {
    const first = { ...delivery('whk_rc_0', 0), eventId: 'evt_pack_raced' };
    const fan = (names: string[]) => names.map((webhookId) => ({ ...first, id: newDeliveryId(first.createdAt.getTime()), webhookId }));
    const names = Array.from({ length: 100 }, (_, n) => `whk_rc_${String(n).padStart(3, '0')}`);
    const racer = new DeliveryStore(db);
    await racer.insertPending(fan(names), 't:14:1', 'digest', () => {});
    // Matched again with a new webhook in the later part, whose pack of that name holds the others.
    const late = 'whk_rc_0995';
    const other = newDeliveryId(first.createdAt.getTime());
    const reads = vi.spyOn(racer as unknown as { readStoredPairs: (docs: Array<{ webhookId: string }>) => Promise<unknown[]> }, 'readStoredPairs');
    const original = reads.getMockImplementation() ?? (DeliveryStore.prototype as unknown as { readStoredPairs: (docs: unknown[]) => Promise<unknown[]> }).readStoredPairs;
    let asked = 0;
    reads.mockImplementation(async function (this: unknown, docs) {
      const found = await original.call(racer, docs);
      // The second look-up that finds it nowhere: another process stores it one by one just then.
      if (docs.some((d) => d.webhookId === late) && ++asked === 2) {
        await db.collection(`deliveries_${partitionOf(other, late)}`).insertOne({ _id: other, workspace: first.workspace, webhookId: late, eventId: first.eventId, eventType: first.eventType, agent: null, createdAt: first.createdAt, source: 't:14:1' } as never);
      }
      return found;
    });
    const again = await racer.insertPending(fan([...names, late]), 't:14:1', 'digest', () => {}).finally(() => reads.mockRestore());
    expect(again.existing.filter((d) => d.webhookId === late).map((d) => d.id)).toEqual([other]);
    expect((await racer.settlement('evt_pack_raced')).total).toBe(101);
  });

  it('stores one delivery when two records of the same event arrive together, and tells the second which', async () => {
    const first = delivery('whk_race', 0);
    const second = { ...delivery('whk_race', 0), eventId: first.eventId };
    const [a, b] = await Promise.all([store.insertPending([first], 't:1:1', 'digest'), store.insertPending([second], 't:2:7', 'digest')]);
    expect(a).toEqual({ existing: [] });
    expect(b).toEqual({ existing: [], duplicateOf: 't:1:1' });
    expect(await store.get('ws_store', 'whk_race', first.id)).toMatchObject({ status: 'pending' });
    expect(await store.get('ws_store', 'whk_race', second.id)).toBeNull();
  });

  it('refuses an event whose id the workspace already used for another event, and reads bodies by event', async () => {
    const d = delivery('whk_conflict', 0);
    await store.insertPending([d], 't:3:1', 'digest-one');
    const reused = { ...delivery('whk_conflict_other', 1), eventId: d.eventId };
    expect(await store.insertPending([reused], 't:3:2', 'digest-two')).toEqual({ existing: [], conflictWith: 't:3:1' });
    expect(await store.get('ws_store', 'whk_conflict_other', reused.id)).toBeNull();
    expect(await store.bodyOf('ws_store', d.eventId)).toBe(d.payload);
    expect(await store.bodyOf('other_ws', d.eventId)).toBeNull();

    // Both in one batch: the first one wins, the second is refused.
    const [x, y] = [delivery('whk_batch_a', 2), delivery('whk_batch_b', 2)];
    y.eventId = x.eventId;
    const [a, b] = await Promise.all([store.insertPending([x], 't:4:1', 'digest-x'), store.insertPending([y], 't:4:2', 'digest-y')]);
    expect(a).toEqual({ existing: [] });
    expect(b).toEqual({ existing: [], conflictWith: 't:4:1' });
  });

  it('pages newest first, with and without a status filter, and the filtered pages add up', async () => {
    const ds = Array.from({ length: 450 }, (_, i) => delivery('whk_page', i, i % 2 ? 'card.authorised' : 'message.received'));
    await store.insertPending(ds, 't:0:5', 'digest');
    // Every third succeeded, every third failed, the rest still pending.
    await store.recordOutcomes(ds.flatMap((d, i) => (i % 3 === 0 ? [outcome(d, 1, 'succeeded', 200)] : i % 3 === 1 ? [outcome(d, 1, 'failed', 500)] : [])));

    const first = await store.list('ws_store', 'whk_page', {}, 10, '');
    expect(first.items.map((d) => d.id)).toEqual(ds.slice(-10).reverse().map((d) => d.id));
    expect(first.items[0]!.attempts).toEqual([]);
    expect(first.items[0]!.payload).toBe('');
    expect(first.nextCursor).not.toBe('');

    for (const status of ['succeeded', 'failed', 'pending'] as const) {
      const seen: string[] = [];
      let cursor = '';
      do {
        const page = await store.list('ws_store', 'whk_page', { status }, 40, cursor);
        expect(page.items.every((d) => d.status === status)).toBe(true);
        seen.push(...page.items.map((d) => d.id));
        cursor = page.nextCursor;
      } while (cursor);
      const want = ds.filter((_, i) => ['succeeded', 'failed', 'pending'][i % 3] === status).reverse();
      expect(seen).toEqual(want.map((d) => d.id));
    }

    const cards = await store.list('ws_store', 'whk_page', { status: 'succeeded', eventType: 'card.authorised' }, 500, '');
    expect(cards.items.length).toBe(ds.filter((d, i) => i % 3 === 0 && d.eventType === 'card.authorised').length);
    expect(cards.nextCursor).toBe('');
  });

  it('counts every delivery of a run by status', async () => {
    const ds = [delivery('whk_count', 0), delivery('whk_count', 1), delivery('whk_count', 2)].map((d, i) => ({ ...d, eventId: `evt_tally.${i}` }));
    await store.insertPending(ds, 't:0:6', 'digest');
    await store.recordOutcomes([outcome(ds[0]!, 1, 'retrying', 500), outcome(ds[0]!, 2, 'succeeded', 200), outcome(ds[1]!, 1, 'retrying', 500)]);
    const tally = await store.settlement('evt_tally.');
    expect(tally.total).toBe(3);
    expect(tally.byStatus).toEqual({ pending: 1, succeeded: 1, retrying: 1, failed: 0 });
    expect(tally.unsettled.map((u) => u.status).sort()).toEqual(['pending', 'retrying']);
  });

  it('reads a webhook\'s hour of more deliveries than a first reply holds by default in one reply each, leaving no cursor open on the server', async () => {
    // FerretDB holds a SQLite connection for each cursor left open between replies, 100 per
    // database, and its reads wait for one: enough reads waiting to send their getMore stop it.
    const watched = await watchReads(db.databaseName);
    const watchedStore = new DeliveryStore(watched.db);
    const many = Array.from({ length: 150 }, (_, n) => ({ ...delivery('whk_many', n), eventId: `evt_many${n}` }));
    await Promise.all(many.map((d, n) => watchedStore.insertPending([d], `t:9:${n}`, 'digest')));
    await watchedStore.recordOutcomes(many.map((d) => outcome(d, 1, 'failed', 500)));
    const page = await watchedStore.list('ws_store', 'whk_many', {}, 100, '');
    expect(page.items).toHaveLength(100);
    let failed = 0;
    for await (const chunk of watchedStore.failedDeliveries('ws_store', 'whk_many', new Date(0), new Date(base.getTime() + 3_600_000))) failed += chunk.length;
    expect(failed).toBe(150);
    expect((await watchedStore.byIds(many.map((d) => d.id))).map((d) => d.status)).toEqual(many.map(() => 'failed'));
    expect((await watchedStore.settlement('evt_many')).byStatus.failed).toBe(150);
    expect(watched.leftOpen).toEqual([]);
  });

  it('looks up a duplicate outside the write that every workspace\'s new deliveries share', async () => {
    // Many stored deliveries: on FerretDB the look-up by event id scans them all.
    const filler = Array.from({ length: 20_000 }, (_, i) => ({ _id: `dlv_fill${i}`, workspace: 'ws_fill', webhookId: 'whk_fill', eventId: `evt_fill${i}`, eventType: 'sms.sent', agent: null, createdAt: base, source: 'fill' }));
    const d = delivery('whk_stall', 0);
    // In the hour the delivery's id names (these ids all share the first one).
    const hour = db.collection(`deliveries_${partitionOf(d.id, d.webhookId)}`);
    for (let i = 0; i < filler.length; i += 5_000) await hour.insertMany(filler.slice(i, i + 5_000) as never[]);
    await store.insertPending([d], 't:5:1', 'digest');

    // What one look-up of a duplicate costs here: at least one scan of the deliveries.
    let started = Date.now();
    await hour.find({ eventId: { $in: [d.eventId] } }).toArray();
    const lookupMs = Date.now() - started;

    const duplicate = store.insertPending([{ ...delivery('whk_stall', 1), eventId: d.eventId }], 't:5:1', 'digest');
    await new Promise((resolve) => setTimeout(resolve, 5));
    started = Date.now();
    await store.insertPending([{ ...delivery('whk_elsewhere', 2), workspace: 'ws_elsewhere' }], 't:5:3', 'digest');
    const freshMs = Date.now() - started;
    expect((await duplicate).existing.map((e) => e.id)).toEqual([d.id]);
    // Not a speed figure: whether the new delivery waited for the scan at all (it used to, whole).
    expect(freshMs, `fresh insert ${freshMs} ms, one look-up ${lookupMs} ms`).toBeLessThan(lookupMs / 2);
  });
});

describe('records of the single collections of earlier versions', () => {
  it('are moved into hours at start, and the old collections dropped', async () => {
    const old = (await useMongo('deliveries_legacy')).db;
    const d = delivery('whk_legacy', 0);
    const o = outcome(d, 1, 'failed', 500);
    await old.collection('event_payloads').insertOne({ _id: `${d.workspace}/${d.eventId}`, workspace: d.workspace, eventId: d.eventId, payload: d.payload, createdAt: d.createdAt, source: 't:9:1', digest: 'digest' } as never);
    await old.collection('deliveries').insertOne({ _id: d.id, workspace: d.workspace, webhookId: d.webhookId, eventId: d.eventId, eventType: d.eventType, agent: null, createdAt: d.createdAt, source: 't:9:1' } as never);
    const { id, ...rest } = o;
    await old.collection('delivery_outcomes').insertOne({ _id: id, ...rest } as never);

    const converted = new DeliveryStore(old);
    await converted.ensureIndexes();
    expect(await converted.get('ws_store', 'whk_legacy', d.id)).toMatchObject({ status: 'failed', attemptCount: 1, payload: d.payload });
    const names = (await old.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    expect(names.filter((n) => ['deliveries', 'delivery_outcomes', 'event_payloads'].includes(n))).toEqual([]);
    await converted.close();
  });
});
