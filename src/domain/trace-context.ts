/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and `tracestate`
 * headers that tie an event, its deliveries and the receivers' own work into one trace.
 */

/** A trace context as carried in headers, by Kafka records and by delivery tasks. */
export interface TraceContext {
  /** `00-<trace id>-<parent span id>-<flags>`, always in version 00 form. */
  traceparent: string;
  /** Vendor entries, passed on as received. */
  tracestate?: string;
}

export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** Bit 0: sampled. */
  flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZERO = /^0+$/;
/** The spec's bound: a longer tracestate may be dropped whole. */
const MAX_TRACESTATE = 512;

/** null when `value` is not a traceparent this version of the spec accepts. */
export function parseTraceparent(value: string): TraceParent | null {
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return null;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is invalid; version 00 has nothing after the flags; a later version is read as 00.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return null;
  return { traceId, spanId, flags: parseInt(flags, 16) };
}

export function formatTraceparent({ traceId, spanId, flags }: TraceParent): string {
  return `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * The context received in a pair of headers; undefined when there is none or the traceparent is
 * not valid (a new trace starts then). A tracestate without a valid traceparent is dropped, as the
 * spec asks, and so is one that is too long or not printable ASCII.
 */
export function traceContextFrom(traceparent: string | undefined, tracestate: string | undefined): TraceContext | undefined {
  const parent = traceparent === undefined ? null : parseTraceparent(traceparent);
  if (!parent) return undefined;
  const state = tracestate?.trim();
  const context: TraceContext = { traceparent: formatTraceparent(parent) };
  if (state && state.length <= MAX_TRACESTATE && /^[\x20-\x7e]+$/.test(state)) context.tracestate = state;
  return context;
}

/** The headers that carry `context` to the next hop. */
export function traceHeaders(context: TraceContext | undefined): Record<string, string> {
  if (!context) return {};
  return context.tracestate ? { traceparent: context.traceparent, tracestate: context.tracestate } : { traceparent: context.traceparent };
}
