import { describe, expect, it } from 'vitest';
import { FetchSession, fetchInSession, type FetchTopic } from './fetch-sessions.js';

const at = (offsets: Record<string, number[]>): FetchTopic[] =>
  Object.entries(offsets).map(([topic, list]) => ({ topic, partitions: list.map((offset, partition) => ({ partition, fetchOffset: String(offset), maxBytes: 1024 })) }));

/** A session opened by one full fetch, as broker session 7. */
function opened(topics: FetchTopic[]): FetchSession {
  const session = new FetchSession();
  session.settle(session.plan(topics), { errorCode: 0, sessionId: 7 });
  return session;
}

describe('FetchSession', () => {
  it('opens a session with every partition, then names none while no offset moved', () => {
    const session = new FetchSession();
    const first = session.plan(at({ a: [0, 0, 0], b: [5] }));
    expect(first).toMatchObject({ sessionId: 0, sessionEpoch: 0, forgottenTopics: [] });
    expect(first.topics.flatMap((t) => t.partitions)).toHaveLength(4);
    session.settle(first, { errorCode: 0, sessionId: 7 });
    const next = session.plan(at({ a: [0, 0, 0], b: [5] }));
    expect(next).toEqual({ sessionId: 7, sessionEpoch: 1, topics: [], forgottenTopics: [] });
  });

  it('names the partitions whose offset moved or that were added, and forgets the ones dropped', () => {
    const session = opened(at({ a: [0, 0, 0], b: [5] }));
    const wanted = at({ a: [0, 3], c: [1] });
    const plan = session.plan(wanted);
    expect(plan.topics).toEqual([
      { topic: 'a', partitions: [{ partition: 1, fetchOffset: '3', maxBytes: 1024 }] },
      { topic: 'c', partitions: [{ partition: 0, fetchOffset: '1', maxBytes: 1024 }] },
    ]);
    expect(plan.forgottenTopics).toEqual([
      { topic: 'a', partitions: [2] },
      { topic: 'b', partitions: [0] },
    ]);
    session.settle(plan, { errorCode: 0, sessionId: 7 });
    expect(session.plan(wanted)).toEqual({ sessionId: 7, sessionEpoch: 2, topics: [], forgottenTopics: [] });
  });

  it('keeps the partitions of a request that failed for the next one, in a new session', () => {
    const session = opened(at({ a: [0, 0] }));
    const moved = session.plan(at({ a: [4, 0] }));
    session.settle(moved, undefined);
    const again = session.plan(at({ a: [4, 0] }));
    expect(again).toMatchObject({ sessionId: 0, sessionEpoch: 0, forgottenTopics: [] });
    expect(again.topics[0]!.partitions).toHaveLength(2);
  });

  it('ends the session when the broker answers with an error (lost session, wrong epoch)', () => {
    const session = opened(at({ a: [0] }));
    session.settle(session.plan(at({ a: [0] })), { errorCode: 71, sessionId: 0 });
    expect(session.plan(at({ a: [0] }))).toMatchObject({ sessionId: 0, sessionEpoch: 0 });
  });

  it('asks again for a session when the broker kept none', () => {
    const session = new FetchSession();
    session.settle(session.plan(at({ a: [0] })), { errorCode: 0, sessionId: 0 });
    const next = session.plan(at({ a: [0] }));
    expect(next).toMatchObject({ sessionId: 0, sessionEpoch: 0 });
    expect(next.topics[0]!.partitions).toHaveLength(1);
  });

  it('sends a fetch made while another is out as a plain full fetch, leaving the session as it was', () => {
    const session = opened(at({ a: [0] }));
    const first = session.plan(at({ a: [1] }));
    const meanwhile = session.plan(at({ a: [1] }));
    expect(meanwhile).toMatchObject({ sessionId: 0, sessionEpoch: -1 });
    session.settle(meanwhile, { errorCode: 0, sessionId: 0 });
    session.settle(first, { errorCode: 0, sessionId: 7 });
    expect(session.plan(at({ a: [1] }))).toEqual({ sessionId: 7, sessionEpoch: 2, topics: [], forgottenTopics: [] });
  });

  it('wraps the epoch to 1 after the largest one', () => {
    const session = opened(at({ a: [0] }));
    (session as unknown as { epoch: number }).epoch = 2_147_483_647;
    expect(session.plan(at({ a: [0] })).sessionEpoch).toBe(1);
  });
});

describe('fetchInSession', () => {
  it('hands back an answer with a session error without partitions, and opens a new session next', async () => {
    const session = opened(at({ a: [0] }));
    const answer = await fetchInSession(session, at({ a: [0] }), async () => ({ errorCode: 70, sessionId: 0, responses: [{ topicName: 'a', partitions: [] }] }));
    expect(answer.responses).toEqual([]);
    expect(session.plan(at({ a: [0] }))).toMatchObject({ sessionId: 0, sessionEpoch: 0 });
  });

  it('passes a failed request on and opens a new session next', async () => {
    const session = opened(at({ a: [0] }));
    await expect(fetchInSession(session, at({ a: [0] }), async () => Promise.reject(new Error('connection closed')))).rejects.toThrow('connection closed');
    expect(session.plan(at({ a: [0] }))).toMatchObject({ sessionId: 0, sessionEpoch: 0 });
  });
});
