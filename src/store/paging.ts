import type { Filter } from 'mongodb';
import { invalidArgument } from '../domain/errors.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** 0 means the default; larger than the maximum is capped; negative is refused. */
export function pageSizeOf(requested: number, field = 'limit'): number {
  if (!Number.isInteger(requested) || requested < 0) throw invalidArgument(`${field} must be a whole number from 0 to ${MAX_PAGE_SIZE}`, field);
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

/** Where the previous page ended: newest-first order on (createdAt, _id). */
interface Position {
  t: number;
  id: string;
}

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify({ t: createdAt.getTime(), id } satisfies Position)).toString('base64url');
}

export function decodeCursor(cursor: string, field: string): Position {
  try {
    if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw new Error('not base64url');
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<Position>;
    if (typeof value.t !== 'number' || !Number.isFinite(value.t) || typeof value.id !== 'string') throw new Error('bad shape');
    return { t: value.t, id: value.id };
  } catch {
    throw invalidArgument(`${field} is not a cursor this API returned`, field);
  }
}

/** The filter for the items strictly after the cursor, in (createdAt desc, _id desc) order. */
export function afterCursor<T extends { createdAt: Date; _id: string }>(cursor: string, field = 'cursor'): Filter<T> {
  if (cursor === '') return {};
  return afterPosition<T>(decodeCursor(cursor, field));
}

/** The same for a cursor already decoded. */
export function afterPosition<T extends { createdAt: Date; _id: string }>({ t, id }: Position): Filter<T> {
  const at = new Date(t);
  return { $or: [{ createdAt: { $lt: at } }, { createdAt: at, _id: { $lt: id } }] } as Filter<T>;
}

/** Fetch `size + 1` items; the extra one tells whether a next page exists. */
export function toPage<D extends { createdAt: Date; _id: string }, R>(docs: D[], size: number, map: (doc: D) => R) {
  const more = docs.length > size;
  const items = docs.slice(0, size);
  const last = items[items.length - 1];
  return { items: items.map(map), nextCursor: more && last ? encodeCursor(last.createdAt, last._id) : '' };
}

export const NEWEST_FIRST = { createdAt: -1, _id: -1 } as const;
