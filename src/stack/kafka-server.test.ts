import { describe, expect, it } from 'vitest';
import { brokerCollector } from './kafka-server.js';

describe.runIf(process.platform !== 'win32')('brokerCollector', () => {
  it('picks Shenandoah when this Java starts with it', async () => {
    // `true` stands for a Java that accepts -XX:+UseShenandoahGC -version.
    expect(await brokerCollector('true')).toBe('-XX:+UseShenandoahGC');
  });

  it('falls back to G1 when this Java refuses Shenandoah, or is not there', async () => {
    expect(await brokerCollector('false')).toBe('-XX:+UseG1GC');
    expect(await brokerCollector('/nonexistent/java')).toBe('-XX:+UseG1GC');
  });
});
