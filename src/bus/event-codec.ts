import { createHash } from 'node:crypto';
import { fromBinary, toJson } from '@bufbuild/protobuf';
import { DomainError } from '../domain/errors.js';
import { parseExactJson, validateEvent, type ValidEvent } from '../domain/event.js';
import { EventSchema } from '../gen/humiris/webhooks/v1/resources_pb.js';

export const MAX_EVENT_BYTES = 1024 * 1024;
export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

export interface EventRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  value: Buffer | null;
  contentType?: string;
}

export type DecodedEvent = { ok: true; event: ValidEvent } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Stable per record, so reprocessing the same record never creates a second delivery. The
 * record's timestamp keeps a re-created topic, whose offsets start again at 0, from repeating
 * the ids of the records its earlier incarnation held.
 */
export function recordEventId(topic: string, partition: number, offset: string, timestamp: string): string {
  return `evt_${createHash('sha256').update(`${topic}:${partition}:${offset}:${timestamp}`).digest('hex').slice(0, 24)}`;
}

function parseBody(value: Buffer, contentType: string | undefined): unknown {
  if (contentType?.split(';')[0]?.trim() === PROTOBUF_CONTENT_TYPE) {
    try {
      return toJson(EventSchema, fromBinary(EventSchema, value), { useProtoFieldName: true });
    } catch (error) {
      throw new DomainError('invalid_argument', `not a valid protobuf Event: ${(error as Error).message}`);
    }
  }
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    throw new DomainError('invalid_argument', 'not valid UTF-8');
  }
  try {
    return parseExactJson(text);
  } catch (error) {
    // Its parser recurses: nesting too deep for it is refused by the depth check after a plain parse.
    if (error instanceof RangeError) return JSON.parse(text);
    throw new DomainError('invalid_argument', `not JSON: ${(error as Error).message}`);
  }
}

/** A Kafka record of an event topic → a valid event, or the reason it cannot be accepted. */
export function decodeEventRecord(record: EventRecord, topicType: string): DecodedEvent {
  try {
    if (!record.value || record.value.length === 0) return { ok: false, reason: 'empty value' };
    if (record.value.length > MAX_EVENT_BYTES) {
      return { ok: false, reason: `value is ${record.value.length} bytes, over the 1 MiB limit` };
    }
    const event = validateEvent(parseBody(record.value, record.contentType), {
      topicType,
      createdAt: new Date(Number(record.timestamp)),
      id: recordEventId(record.topic, record.partition, record.offset, record.timestamp),
    });
    return { ok: true, event };
  } catch (error) {
    if (error instanceof DomainError) return { ok: false, reason: error.message };
    return { ok: false, reason: `could not be read: ${(error as Error).message}` };
  }
}
