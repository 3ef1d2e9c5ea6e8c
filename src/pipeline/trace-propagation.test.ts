import { describe, expect, it } from 'vitest';
import { parseTraceparent } from '../domain/trace-context.js';
import { childContext, PropagatingTracing } from './trace-propagation.js';

const PARENT = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'congo=t61rcWkgMzE' };

describe('tracing without an exporter', () => {
  it('makes a child of the received context: same trace, flags and tracestate, a new span id', () => {
    const child = childContext(PARENT);
    const parsed = parseTraceparent(child.traceparent)!;
    expect(parsed.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parsed.spanId).not.toBe('00f067aa0ba902b7');
    expect(parsed.flags).toBe(1);
    expect(child.tracestate).toBe(PARENT.tracestate);
  });

  it('starts a new trace, not marked sampled, when there is none', async () => {
    const seen = await new PropagatingTracing().inSpan('send', {}, async (span) => span.context);
    const parsed = parseTraceparent(seen.traceparent)!;
    expect(parsed.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(parsed.flags).toBe(0);
    expect(seen.tracestate).toBeUndefined();
  });
});
