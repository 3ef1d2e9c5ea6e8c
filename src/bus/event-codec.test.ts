import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { eventPayload } from '../domain/event.js';
import { EventSchema } from '../gen/humiris/webhooks/v1/resources_pb.js';
import { decodeEventRecord, recordEventId } from './event-codec.js';

const record = (value: Buffer | null, contentType?: string) => ({
  topic: 'humiris.events.card.capture',
  partition: 2,
  offset: '41',
  timestamp: String(Date.UTC(2026, 0, 1)),
  value,
  contentType,
});
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('decodeEventRecord', () => {
  it('reads the JSON envelope, filling id and created_at from the record', () => {
    const decoded = decodeEventRecord(record(json({ workspace: 'acme', data: { amount: 5 } })), 'card.capture');
    expect(decoded).toEqual({
      ok: true,
      event: {
        id: recordEventId('humiris.events.card.capture', 2, '41', String(Date.UTC(2026, 0, 1))),
        type: 'card.capture',
        workspace: 'acme',
        agent: null,
        createdAt: new Date(Date.UTC(2026, 0, 1)),
        data: { amount: 5 },
      },
    });
  });

  it('reads binary protobuf when the content-type header says so', () => {
    const message = create(EventSchema, { id: 'evt_p', type: 'card.capture', workspace: 'acme', agent: 'bot', data: { amount: 5 } });
    const decoded = decodeEventRecord(record(Buffer.from(toBinary(EventSchema, message)), 'application/x-protobuf'), 'card.capture');
    expect(decoded.ok && [decoded.event.id, decoded.event.agent, decoded.event.data]).toEqual(['evt_p', 'bot', { amount: 5 }]);
  });

  it('derives the same id for the same record, and another for a re-created topic at the same offset', () => {
    expect(recordEventId('t', 0, '1', '1000')).toBe(recordEventId('t', 0, '1', '1000'));
    expect(recordEventId('t', 0, '1', '1000')).not.toBe(recordEventId('t', 0, '2', '1000'));
    expect(recordEventId('t', 0, '1', '1000')).not.toBe(recordEventId('t', 0, '1', '2000'));
  });

  it('keeps the exact text of numbers a double cannot hold', () => {
    const text = '{"workspace":"acme","data":{"a":9007199254740993,"b":12345678901234567890,"c":1e400,"d":[1.0,-0,0.5]}}';
    const decoded = decodeEventRecord(record(Buffer.from(text)), 'card.capture');
    expect(decoded.ok && eventPayload(decoded.event)).toContain('"data":{"a":9007199254740993,"b":12345678901234567890,"c":1e400,"d":[1.0,-0,0.5]}');
  });

  it.each([
    ['empty', record(null), 'empty value'],
    ['not JSON', record(Buffer.from('{nope')), 'not JSON'],
    ['invalid UTF-8', record(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 'not valid UTF-8'],
    ['over 1 MiB', record(Buffer.alloc(1024 * 1024 + 1, 0x20)), 'over the 1 MiB limit'],
    ['garbage protobuf', record(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), 'application/x-protobuf'), 'not a valid protobuf Event'],
    ['nesting deeper than any parser should follow', record(Buffer.from(`{"workspace":"acme","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)), 'data must be a JSON object'],
    ['data nested too deep', record(Buffer.from(`{"workspace":"acme","data":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`)), 'nested deeper than'],
    ['type of another topic', record(json({ type: 'sms.sent', workspace: 'acme', data: {} })), 'does not match'],
  ])('quarantines %s', (_, input, reason) => {
    const decoded = decodeEventRecord(input, 'card.capture');
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toContain(reason);
  });
});
