import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import type { UniversalHandlerOptions } from '@connectrpc/connect/protocol';
import type { Config } from '../config/config.js';
import { EventService } from '../gen/humiris/webhooks/v1/event_service_pb.js';
import { WebhookService } from '../gen/humiris/webhooks/v1/webhook_service_pb.js';
import { Health, HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from '../gen/grpc/health/v1/health_pb.js';
import type { Logger } from '../log/logger.js';
import type { DeliveryActions, DeliveryReader } from '../pipeline/ports.js';
import type { Recoveries } from '../pipeline/recovery.js';
import type { ApiKeyStore } from '../store/api-key-store.js';
import type { WebhookStore } from '../store/webhook-store.js';
import { eventService } from './event-service.js';
import { authInterceptor, errorAndLogInterceptor, RateLimiter, readGateInterceptor } from './interceptors.js';
import { ReadGate } from './read-gate.js';
import { metricsInterceptor } from './metrics-interceptor.js';
import { noMetrics, type Metrics } from '../pipeline/metrics.js';
import { registerReflection } from './reflection.js';
import { webhookService } from './webhook-service.js';

/** Request bodies (and single messages) above this are refused: 413 on REST, resource_exhausted on RPC. */
export const MAX_BODY_BYTES = 1024 * 1024;

export type ApiConfig = Pick<Config, 'allowPrivateUrls' | 'maxWebhooksPerWorkspace' | 'rateLimitPerMinute'>;

/** What the API needs; main.ts supplies it. */
export interface ApiDeps {
  config: ApiConfig;
  logger: Logger;
  webhooks: WebhookStore;
  apiKeys: ApiKeyStore;
  deliveries: DeliveryReader;
  actions: DeliveryActions;
  /** Bulk recovery jobs (RecoverDeliveries, GetRecovery). */
  recoveries: Pick<Recoveries, 'start' | 'get'>;
  /** Resolves when Kafka and MongoDB answer; rejects naming what does not. */
  ready(): Promise<void>;
  /** Counts calls by RPC and code. */
  metrics?: Metrics;
}

/** The same for Connect, gRPC, gRPC-Web and REST: unknown JSON fields refused, every field shown. */
export const HANDLER_OPTIONS: Partial<UniversalHandlerOptions> = {
  readMaxBytes: MAX_BODY_BYTES,
  jsonOptions: { ignoreUnknownFields: false, alwaysEmitImplicit: true, useProtoFieldName: true },
};

const HEALTH_SERVICES = new Set(['', WebhookService.typeName, EventService.typeName]);

/** The calls that read deliveries or a workspace's webhooks (up to 10,000), bounded by the read gate. */
const GATED_READS = new Set(['ListDeliveries', 'GetDelivery', 'GetDeliveryCounts', 'RetryDelivery', 'ListWebhooks']);
/**
 * Two reads per workspace and four in all run at once, per API process: a page of a busy hour scans
 * its shard on FerretDB, and the store's cores are shared with the pipeline's writes.
 */
const READ_LIMITS = { perWorkspace: 2, total: 4, maxWaiting: 256, maxWaitMs: 10_000 } as const;

/** Registers every service on a router; server start-up lives in server.ts. */
export function registerRoutes(router: ConnectRouter, deps: ApiDeps): ConnectRouter {
  // Outermost, so every call is counted with the code its caller sees.
  const outer = [metricsInterceptor(deps.metrics ?? noMetrics), errorAndLogInterceptor(deps.logger.child({ component: 'api' }))];
  const authenticated = {
    ...HANDLER_OPTIONS,
    interceptors: [...outer, authInterceptor(deps.apiKeys, new RateLimiter(deps.config.rateLimitPerMinute)), readGateInterceptor(new ReadGate(READ_LIMITS), GATED_READS)],
  };

  router.service(WebhookService, webhookService(deps), authenticated);
  router.service(EventService, eventService(deps), authenticated);
  // Health answers without a key: load balancers and orchestrators have none.
  router.service(
    Health,
    {
      async check(req) {
        if (!HEALTH_SERVICES.has(req.service)) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
        const ok = await deps.ready().then(() => true, () => false);
        return create(HealthCheckResponseSchema, {
          status: ok ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING,
        });
      },
    },
    { ...HANDLER_OPTIONS, interceptors: outer },
  );
  // Reflection shows the schema only, like health it needs no key.
  registerReflection(router, [WebhookService, EventService, Health], { ...HANDLER_OPTIONS, interceptors: outer });
  return router;
}
