import type { Tracing } from '../pipeline/ports.js';
import { PropagatingTracing } from '../pipeline/trace-propagation.js';

export interface TracingConfig {
  /** OTLP/HTTP traces URL; absent: nothing is exported. */
  otlpTracesUrl?: string;
  serviceName: string;
}

export interface TracingRuntime {
  tracing: Tracing;
  /** Exports the spans still buffered, then stops the exporter. */
  shutdown(): Promise<void>;
}

/** OpenTelemetry is loaded only when traces are exported: without an endpoint tracing costs a random id per span. */
export async function startTracing(config: TracingConfig, serviceVersion: string, warn: (message: string) => void): Promise<TracingRuntime> {
  if (!config.otlpTracesUrl) return { tracing: new PropagatingTracing(), shutdown: async () => {} };
  const { startOtlpTracing } = await import('./otel-tracing.js');
  return startOtlpTracing({ url: config.otlpTracesUrl, serviceName: config.serviceName, serviceVersion, warn });
}
