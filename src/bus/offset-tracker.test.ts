import { describe, expect, it } from 'vitest';
import { OffsetTracker } from './offset-tracker.js';

describe('OffsetTracker', () => {
  it('commits only up to the lowest unfinished offset', () => {
    const tracker = new OffsetTracker();
    expect(tracker.committable()).toBeUndefined();
    for (const offset of ['10', '11', '12']) tracker.begin(offset);
    expect(tracker.committable()).toBe('10');
    tracker.finish('11');
    tracker.finish('12');
    expect(tracker.committable()).toBe('10');
    tracker.finish('10');
    expect(tracker.committable()).toBe('13');
    expect(tracker.pending).toBe(0);
  });

  it('holds an offset handed out twice until both handlings finish', () => {
    const tracker = new OffsetTracker();
    tracker.begin('5');
    tracker.begin('6');
    tracker.begin('5');
    tracker.finish('6');
    tracker.finish('5');
    expect(tracker.committable()).toBe('5');
    tracker.finish('5');
    expect(tracker.committable()).toBe('7');
  });
});
