import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent, traceContextFrom, traceHeaders } from './trace-context.js';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('W3C trace context', () => {
  it('reads a valid traceparent and writes it back the same', () => {
    const parsed = parseTraceparent(VALID);
    expect(parsed).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 });
    expect(formatTraceparent(parsed!)).toBe(VALID);
  });

  it.each([
    ['upper-case hex', VALID.toUpperCase()],
    ['version ff', VALID.replace(/^00/, 'ff')],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['an all-zero parent id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`],
    ['version 00 with more fields', `${VALID}-extra`],
    ['a short trace id', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'],
    ['junk', 'hello'],
  ])('refuses %s', (_, value) => {
    expect(parseTraceparent(value)).toBeNull();
  });

  it('reads a later version as version 00', () => {
    expect(traceContextFrom(`01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more`, undefined)).toEqual({ traceparent: VALID });
  });

  it('keeps a tracestate only beside a valid traceparent, and only when it is short printable text', () => {
    expect(traceContextFrom(VALID, 'congo=t61rcWkgMzE')).toEqual({ traceparent: VALID, tracestate: 'congo=t61rcWkgMzE' });
    expect(traceContextFrom('nope', 'congo=t61rcWkgMzE')).toBeUndefined();
    expect(traceContextFrom(undefined, undefined)).toBeUndefined();
    expect(traceContextFrom(VALID, `a=${'x'.repeat(600)}`)).toEqual({ traceparent: VALID });
    expect(traceContextFrom(VALID, 'a=\u00e9')).toEqual({ traceparent: VALID });
    expect(traceHeaders(traceContextFrom(VALID, 'a=1'))).toEqual({ traceparent: VALID, tracestate: 'a=1' });
    expect(traceHeaders(undefined)).toEqual({});
  });
});
