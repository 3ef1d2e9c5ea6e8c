import { create, toJson } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import { invalidArgument } from '../domain/errors.js';
import { validateEvent } from '../domain/event.js';
import { traceContextFrom } from '../domain/trace-context.js';
import { newEventId } from '../domain/ids.js';
import { EventService, PublishEventResponseSchema } from '../gen/humiris/webhooks/v1/event_service_pb.js';
import { EventSchema, type Event } from '../gen/humiris/webhooks/v1/resources_pb.js';
import { principalOf } from './interceptors.js';
import type { ApiDeps } from './routes.js';
import type { DomainEvent } from '../pipeline/ports.js';

/**
 * The event as the JSON envelope the pipeline validates. The binary protocols can carry what JSON
 * cannot (a NaN or infinite number in data, a created_at outside years 1-9999): a client mistake.
 */
function eventJson(event: Event): object {
  try {
    return toJson(EventSchema, event, { useProtoFieldName: true }) as object;
  } catch (error) {
    const field = /Timestamp/.test((error as Error).message) ? 'created_at' : 'data';
    throw invalidArgument(`event ${field} cannot be represented as JSON: ${(error as Error).message}`, field);
  }
}

export function eventService({ actions }: ApiDeps): ServiceImpl<typeof EventService> {
  return {
    async publishEvent(req, ctx) {
      if (!req.event) throw invalidArgument('event is required', 'event');
      // The same envelope rules as events read from Kafka; the workspace is always the key's own.
      // The request's trace context, if any, goes with the event to its deliveries.
      const envelope = { ...eventJson(req.event), workspace: principalOf(ctx).workspace };
      const trace = traceContextFrom(ctx.requestHeader.get('traceparent') ?? undefined, ctx.requestHeader.get('tracestate') ?? undefined);
      const event: DomainEvent = { ...validateEvent(envelope, { createdAt: new Date(), id: newEventId() }), trace };
      await actions.publishEvent(event);
      return create(PublishEventResponseSchema, { id: event.id });
    },
  };
}
