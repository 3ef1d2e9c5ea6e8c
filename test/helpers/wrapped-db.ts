import type { Collection, Db, Document } from 'mongodb';

/** `db`, with one method of the collections whose names `matches` wrapped: counted, held back, ... */
export function wrapCollectionMethod<M extends 'insertOne' | 'updateOne'>(
  db: Db,
  matches: (name: string) => boolean,
  method: M,
  wrap: (original: Collection<Document>[M]) => Collection<Document>[M],
): Db {
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== 'collection') return Reflect.get(target, prop, target);
      return (name: string) => {
        const collection = target.collection(name);
        if (!matches(name)) return collection;
        return Object.assign(Object.create(collection), { [method]: wrap(collection[method].bind(collection) as Collection<Document>[M]) });
      };
    },
  });
}
