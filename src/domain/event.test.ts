import { describe, expect, it } from 'vitest';
import { DomainError } from './errors.js';
import { depthExceeds, eventPayload, findInexactNumber, parseExactJson, validateEvent, type EventDefaults } from './event.js';

const defaults = { topicType: 'email.received', createdAt: new Date('2026-01-02T03:04:05.000Z'), id: 'evt_fromrecord' };
const good = { workspace: 'acme', agent: 'support-bot', data: { subject: 'hi' } };

function reason(raw: unknown, d: EventDefaults = defaults): string {
  try {
    validateEvent(raw, d);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return (error as Error).message;
  }
  throw new Error('expected the event to be refused');
}

describe('validateEvent', () => {
  it('fills type, id and created_at from the record when omitted', () => {
    expect(validateEvent(good, defaults)).toEqual({
      id: 'evt_fromrecord',
      type: 'email.received',
      workspace: 'acme',
      agent: 'support-bot',
      createdAt: defaults.createdAt,
      data: { subject: 'hi' },
    });
  });

  it('keeps what the producer gave', () => {
    const event = validateEvent(
      { ...good, id: 'evt_1', type: 'email.received', agent: null, created_at: '2026-05-06T07:08:09Z' },
      defaults,
    );
    expect([event.id, event.agent, event.createdAt.toISOString()]).toEqual(['evt_1', null, '2026-05-06T07:08:09.000Z']);
  });

  it.each([
    [[1, 2], 'must be a JSON object'],
    [null, 'must be a JSON object'],
    ['text', 'must be a JSON object'],
    [{ data: {} }, 'workspace is missing'],
    [{ workspace: 'Not A Slug', data: {} }, 'workspace must be a slug'],
    [{ workspace: 'acme', type: 'email.exploded', data: {} }, 'unknown event type "email.exploded"'],
    [{ workspace: 'acme', type: 'sms.sent', data: {} }, `does not match its topic's type "email.received"`],
    [{ workspace: 'acme', data: [1] }, 'data must be a JSON object'],
    [{ workspace: 'acme', data: 'x' }, 'data must be a JSON object'],
    [{ workspace: 'acme' }, 'data must be a JSON object'],
    [{ workspace: 'acme', agent: 'Bad Agent', data: {} }, 'agent must be null or a slug'],
    [{ workspace: 'acme', created_at: 'yesterday', data: {} }, 'created_at must be an RFC 3339'],
    [{ workspace: 'acme', id: 'x'.repeat(200), data: {} }, 'id must be'],
  ])('refuses %j: %s', (raw, expected) => {
    expect(reason(raw)).toContain(expected);
  });

  it('needs a type when no topic gives one', () => {
    expect(reason(good, { ...defaults, topicType: undefined })).toBe('type is missing');
  });

  it('refuses data nested 10,000 levels deep without overflowing the stack', () => {
    let data: Record<string, unknown> = {};
    for (let i = 0; i < 10_000; i++) data = { next: data };
    expect(reason({ workspace: 'acme', data })).toContain('nested deeper than 64');
  });
});

describe('depthExceeds', () => {
  it('counts object and array levels', () => {
    expect(depthExceeds({ a: { b: [1] } }, 3)).toBe(false);
    expect(depthExceeds({ a: { b: [{}] } }, 3)).toBe(true);
  });
});

describe('eventPayload', () => {
  it('is the documented body', () => {
    const event = validateEvent({ ...good, agent: undefined }, defaults);
    expect(JSON.parse(eventPayload(event))).toEqual({
      id: 'evt_fromrecord',
      type: 'email.received',
      created_at: '2026-01-02T03:04:05.000Z',
      agent: null,
      data: { subject: 'hi' },
    });
  });
});

describe('parseExactJson', () => {
  it('keeps the text of numbers a double would change, and only those', () => {
    const text = '{"big":9007199254740993,"huge":12345678901234567890,"inf":1e400,"one":1.0,"negzero":-0,"plain":[1,0.5,-2]}';
    const parsed = parseExactJson(text) as Record<string, unknown>;
    expect(parsed.plain).toEqual([1, 0.5, -2]);
    const event = validateEvent({ workspace: 'acme', data: parsed }, defaults);
    expect(eventPayload(event)).toContain(`"data":${text}`);
  });

  it('refuses a number where data must be an object', () => {
    expect(reason({ workspace: 'acme', data: parseExactJson('1.0') }, defaults)).toBe('data must be a JSON object');
  });
});

describe('findInexactNumber', () => {
  it('finds the numbers a double would change, with their path, and lets exact ones be', () => {
    expect(findInexactNumber(parseExactJson('{"a":{"b":[1,9007199254740993]}}'))).toEqual({ path: 'a.b[1]', text: '9007199254740993' });
    expect(findInexactNumber(parseExactJson('{"x":12345678901234567890}'))).toEqual({ path: 'x', text: '12345678901234567890' });
    expect(findInexactNumber(parseExactJson('{"x":1e400}'))).toEqual({ path: 'x', text: '1e400' });
    expect(findInexactNumber(parseExactJson('{"x":[1.0,0.1,2.50,-0,1E3,9007199254740992,1.5e-7]}'))).toBeNull();
  });
});
