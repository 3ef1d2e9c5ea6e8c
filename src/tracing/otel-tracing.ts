import { createTraceState, diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { formatTraceparent, parseTraceparent, type TraceContext } from '../domain/trace-context.js';
import type { SpanAttributes, SpanOptions, TraceSpan, Tracing } from '../pipeline/ports.js';

function parentContext(parent: TraceContext | undefined): Context {
  const received = parent ? parseTraceparent(parent.traceparent) : null;
  if (!received) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: received.traceId,
    spanId: received.spanId,
    traceFlags: received.flags,
    isRemote: true,
    traceState: parent?.tracestate ? createTraceState(parent.tracestate) : undefined,
  });
}

class OtelSpan implements TraceSpan {
  readonly context: TraceContext;

  constructor(private readonly span: Span) {
    const { traceId, spanId, traceFlags, traceState } = span.spanContext();
    const tracestate = traceState?.serialize();
    this.context = { traceparent: formatTraceparent({ traceId, spanId, flags: traceFlags }), ...(tracestate ? { tracestate } : {}) };
  }

  setAttributes(attributes: SpanAttributes): void {
    this.span.setAttributes(attributes);
  }

  fail(reason: string): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
  }
}

/** Spans recorded with OpenTelemetry; a received context that is not sampled is passed on unrecorded. */
export class OtelTracing implements Tracing {
  constructor(private readonly tracer: Tracer) {}

  async inSpan<T>(name: string, options: SpanOptions, work: (span: TraceSpan) => Promise<T>): Promise<T> {
    const kind = options.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL;
    const span = this.tracer.startSpan(name, { kind, attributes: options.attributes }, parentContext(options.parent));
    try {
      return await work(new OtelSpan(span));
    } catch (error) {
      // The error's type and message only: our errors name what failed, never a secret or a body.
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.setAttribute('error.type', error instanceof Error ? error.name : 'Error');
      throw error;
    } finally {
      span.end();
    }
  }
}

export interface OtlpTracingOptions {
  /** Where the OTLP/HTTP (JSON) export requests go, `…/v1/traces`. */
  url: string;
  serviceName: string;
  serviceVersion: string;
  /** Told when spans could not be exported (collector away, refused): at most once a minute. */
  warn(message: string): void;
}

const WARN_INTERVAL_MS = 60_000;

/** OpenTelemetry's own warnings and errors (a failed export), throttled: a collector that is away fails every batch. */
function reportDiagnostics(warn: (message: string) => void): (message: string, ...args: unknown[]) => void {
  let last = -Infinity;
  let suppressed = 0;
  const report = (message: string, ...args: unknown[]) => {
    const now = Date.now();
    if (now - last < WARN_INTERVAL_MS) {
      suppressed++;
      return;
    }
    last = now;
    const detail = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
    warn(`traces: ${message}${detail ? ` ${detail}` : ''}${suppressed > 0 ? ` (${suppressed} more since the last report)` : ''}`);
    suppressed = 0;
  };
  const quiet = () => {};
  diag.setLogger({ error: report, warn: report, info: quiet, debug: quiet, verbose: quiet }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  return report;
}

/**
 * A tracer provider exporting in batches over OTLP/HTTP. The exporter reads the other standard
 * variables itself (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, certificates);
 * OTEL_RESOURCE_ATTRIBUTES adds resource attributes.
 */
export function startOtlpTracing(options: OtlpTracingOptions): { tracing: Tracing; shutdown(): Promise<void> } {
  const resource = resourceFromAttributes({ 'service.version': options.serviceVersion })
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ 'service.name': options.serviceName }));
  const report = reportDiagnostics(options.warn);
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.url }))],
  });
  return {
    tracing: new OtelTracing(provider.getTracer('humiris-webhooks', options.serviceVersion)),
    shutdown: () => provider.shutdown().catch((error) => report('the last spans could not be exported:', error)),
  };
}
