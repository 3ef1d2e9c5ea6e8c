import { create, toJson, type MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { DomainError, invalidArgument } from '../domain/errors.js';
import { validateEvent, type ValidEvent } from '../domain/event.js';
import { traceContextFrom } from '../domain/trace-context.js';
import { newEventId } from '../domain/ids.js';
import {
  EventService,
  PublishEventResponseSchema,
  PublishEventsResponseSchema,
  type PublishEventResultSchema,
} from '../gen/humiris/webhooks/v1/event_service_pb.js';
import { EventSchema, type Event } from '../gen/humiris/webhooks/v1/resources_pb.js';
import { principalOf } from './interceptors.js';
import { REST_ITEM_ERRORS } from './rest.js';
import type { WebhookStore } from '../store/webhook-store.js';
import type { ApiDeps } from './routes.js';
import type { DomainEvent } from '../pipeline/ports.js';

/** The most events one PublishEvents call carries. */
export const MAX_BATCH_EVENTS = 1000;

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

/**
 * The same envelope rules as events read from Kafka; the workspace is always the key's own. The
 * request's trace context, if any, goes with the event to its deliveries.
 */
function acceptEvent(event: Event, ctx: HandlerContext, webhooks: Pick<WebhookStore, 'changedAt'>): DomainEvent {
  const { workspace } = principalOf(ctx);
  const envelope = { ...eventJson(event), workspace };
  const trace = traceContextFrom(ctx.requestHeader.get('traceparent') ?? undefined, ctx.requestHeader.get('tracestate') ?? undefined);
  const accepted: DomainEvent = { ...validateEvent(envelope, { createdAt: new Date(), id: newEventId() }), trace };
  // A webhook changed here moments before is matched at once wherever the matcher runs.
  if (webhooks.changedAt(workspace) !== undefined) accepted.webhooksChanged = true;
  return accepted;
}

type Result = MessageInitShape<typeof PublishEventResultSchema>;

/** A refusal of one batch item, its field named from the request (`events[3].type`). */
function itemError(error: DomainError, index: number): Result {
  const field = `events[${index}]${error.field ? `.${error.field}` : ''}`;
  return { result: { case: 'error', value: { code: error.code, message: error.message, field, retryable: error.retryable } } };
}

export function eventService({ actions, logger, webhooks }: ApiDeps): ServiceImpl<typeof EventService> {
  return {
    async publishEvent(req, ctx) {
      if (!req.event) throw invalidArgument('event is required', 'event');
      const event = acceptEvent(req.event, ctx, webhooks);
      await actions.publishEvent(event);
      return create(PublishEventResponseSchema, { id: event.id });
    },

    async publishEvents(req, ctx) {
      const count = req.events.length;
      if (count === 0) throw invalidArgument('events must hold at least one event', 'events');
      if (count > MAX_BATCH_EVENTS) {
        throw invalidArgument(`events holds ${count} events; at most ${MAX_BATCH_EVENTS} go in one request: split them into several calls`, 'events');
      }
      const restRefused = ctx.values.get(REST_ITEM_ERRORS);
      const results: Result[] = [];
      const accepted: Array<{ index: number; event: ValidEvent }> = [];
      req.events.forEach((event, index) => {
        try {
          const refused = restRefused.get(index);
          if (refused) throw refused;
          accepted.push({ index, event: acceptEvent(event, ctx, webhooks) });
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          results[index] = itemError(error, index);
        }
      });
      const written = await actions.publishEvents(accepted.map((a) => a.event));
      accepted.forEach(({ index, event }, i) => {
        const failed = written[i];
        results[index] = failed ? itemError(failed, index) : { result: { case: 'id', value: event.id } };
      });
      const failure = written.find((w) => w !== null);
      if (failure) logger.error({ rpc: 'PublishEvents', failed: written.filter((w) => w !== null).length, err: failure.cause ?? failure }, 'events of a batch not written');
      return create(PublishEventsResponseSchema, { results });
    },
  };
}
