import { describe, expect, it } from 'vitest';
import { parseDuration } from '../domain/duration.js';
import { resumeWaitMs } from './pipeline-consumers.js';

const schedule = (...steps: string[]) => steps.map((s) => ({ label: s, delayMs: parseDuration(s) }));

describe('resumeWaitMs', () => {
  it('keeps the wait for a resumed retry partition small beside the first step, from 50 ms to 1 s', () => {
    expect(resumeWaitMs(schedule('30s', '5m'))).toBe(1_000);
    expect(resumeWaitMs(schedule('10s'))).toBe(500);
    expect(resumeWaitMs(schedule('1s', '2s'))).toBe(50);
    expect(resumeWaitMs(schedule('300ms'))).toBe(50);
  });
});
