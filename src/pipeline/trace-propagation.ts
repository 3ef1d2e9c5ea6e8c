import { randomFillSync } from 'node:crypto';
import { formatTraceparent, parseTraceparent, type TraceContext } from '../domain/trace-context.js';
import type { SpanOptions, TraceSpan, Tracing } from './ports.js';

// Ids are cut from a pool filled 4 KiB at a time: a span then costs a few hundred nanoseconds.
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (used + bytes > pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    const hex = pool.toString('hex', used, (used += bytes));
    if (!/^0+$/.test(hex)) return hex;
  }
}

/**
 * The context of a span that is a child of `parent` (same trace, new span id, the parent's flags
 * and tracestate), or of a new trace's first span when there is no parent.
 */
export function childContext(parent: TraceContext | undefined): TraceContext {
  const received = parent ? parseTraceparent(parent.traceparent) : null;
  // A trace started here is not marked sampled: nothing of it is recorded while no exporter is set.
  const traceparent = formatTraceparent({ traceId: received?.traceId ?? randomHex(16), spanId: randomHex(8), flags: received?.flags ?? 0 });
  return received && parent?.tracestate ? { traceparent, tracestate: parent.tracestate } : { traceparent };
}

const unrecorded = (context: TraceContext): TraceSpan => ({ context, setAttributes() {}, fail() {} });

/**
 * Tracing when no exporter is configured: nothing is recorded, and each span costs a random id,
 * but the receivers still get a valid traceparent in the trace the event came with.
 */
export class PropagatingTracing implements Tracing {
  inSpan<T>(_name: string, options: SpanOptions, work: (span: TraceSpan) => Promise<T>): Promise<T> {
    return work(unrecorded(childContext(options.parent)));
  }
}
