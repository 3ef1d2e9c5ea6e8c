import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Progress } from './progress.js';

function recorder() {
  const lines: Array<{ at: number; line: string }> = [];
  return { lines, say: (line: string) => lines.push({ at: Date.now(), line }) };
}

describe('Progress', () => {
  it('says when a step starts and ends, with its time, and fills long steps with heartbeats', async () => {
    const { lines, say } = recorder();
    const progress = new Progress(say, 200, 10);
    const started = Date.now();
    await Promise.all([
      progress.step('Building FerretDB', 'building FerretDB', () => sleep(1_100)),
      progress.step('Resolving Kafka', 'resolving Kafka', () => sleep(300)),
    ]);
    const text = lines.map((l) => l.line);
    expect(text.slice(0, 2)).toEqual(['Building FerretDB', 'Resolving Kafka']);
    expect(text).toContain('  resolving Kafka: done in 0 s');
    expect(text.at(-1)).toBe('  building FerretDB: done in 1 s');
    // Both steps in one heartbeat while both run, then only the one still running.
    expect(text.find((l) => l.startsWith('  … still'))).toMatch(/^  … still building FerretDB \(0 s\), resolving Kafka \(0 s\)$/);
    expect(text.filter((l) => l.startsWith('  … still building FerretDB (') && !l.includes('resolving')).length).toBeGreaterThan(0);
    const gaps = [lines[0]!.at - started, ...lines.slice(1).map((l, i) => l.at - lines[i]!.at)];
    // Heartbeats are due after 200 ms of quiet; the margin absorbs a busy machine's timer delays.
    expect(Math.max(...gaps)).toBeLessThan(350);
  });

  it('stays quiet between steps and after a failed one', async () => {
    const { lines, say } = recorder();
    const progress = new Progress(say, 50, 10);
    await expect(progress.step('Formatting', 'formatting', () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    await sleep(150);
    expect(lines.map((l) => l.line)).toEqual(['Formatting']);
  });

  it('watches quick work without a line, and slow work with heartbeats only', async () => {
    const { lines, say } = recorder();
    const progress = new Progress(say, 200, 10);
    await sleep(300); // the quiet period starts with the work, not with the Progress
    await progress.watch('creating topics', () => sleep(50));
    expect(lines).toEqual([]);
    await progress.watch('joining group matcher', () => sleep(500));
    expect(lines.length).toBeGreaterThan(0);
    expect(new Set(lines.map((l) => l.line))).toEqual(new Set(['  … still joining group matcher (0 s)']));
  });
});
