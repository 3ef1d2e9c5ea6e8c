import { describe, expect, it } from 'vitest';
import { SettlingErrors } from './kafka-log.js';

const COORDINATOR = 'The group coordinator is not available';

describe('SettlingErrors', () => {
  function clock() {
    let now = 1_000_000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  }

  it('keeps a settling error at debug while it is young, at its own level once it persists', () => {
    const time = clock();
    const settling = new SettlingErrors(60_000, time.now);
    expect(settling.level('error', ['Response GroupCoordinator(key: 10, version: 2)', COORDINATOR])).toEqual({ level: 'debug' });
    time.advance(30_000);
    expect(settling.level('error', [`Crash: KafkaJSProtocolError: ${COORDINATOR}`])).toEqual({ level: 'debug' });
    time.advance(30_000);
    expect(settling.level('error', ['Response GroupCoordinator(key: 10, version: 2)', COORDINATOR])).toEqual({ level: 'error', failingForMs: 60_000 });
  });

  it('starts a new episode after a quiet period, and tracks each error on its own', () => {
    const time = clock();
    const settling = new SettlingErrors(60_000, time.now);
    settling.level('error', [COORDINATOR]);
    time.advance(50_000);
    expect(settling.level('error', ['Failed to send messages: This server is not the leader for that topic-partition'])).toEqual({ level: 'debug' });
    time.advance(61_000);
    expect(settling.level('error', [COORDINATOR])).toEqual({ level: 'debug' });
  });

  it('keeps a group rebalancing for a joining member at debug', () => {
    const settling = new SettlingErrors();
    expect(settling.level('error', ['Response Heartbeat(key: 12, version: 3)', 'The group is rebalancing, so a rejoin is needed'])).toEqual({ level: 'debug' });
  });

  it('leaves other errors and levels alone', () => {
    const settling = new SettlingErrors();
    expect(settling.level('error', ['Connection timeout', undefined])).toEqual({ level: 'error' });
    expect(settling.level('warn', ['KafkaJS v2.0.0 switched default partitioner'])).toEqual({ level: 'warn' });
    expect(settling.level('info', [COORDINATOR])).toEqual({ level: 'info' });
  });
});
