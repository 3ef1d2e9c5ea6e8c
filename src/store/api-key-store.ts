import { createHash, timingSafeEqual } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { WORKSPACE_SLUG } from '../domain/event.js';
import { DomainError, invalidArgument } from '../domain/errors.js';
import { ID_PATTERNS, newApiKey, newApiKeyId, type ApiKeyMode } from '../domain/ids.js';
import { markChanged, readAll, type VersionDoc } from './mongo.js';

/** Enough of the key to recognise it in a list, far too little to use it. */
export const KEY_PREFIX_LENGTH = 16;

interface ApiKeyDoc {
  _id: string;
  /** Hex SHA-256 of the whole key; the key itself is never stored. */
  hash: string;
  prefix: string;
  label: string;
  workspace: string;
  createdAt: Date;
  revokedAt: Date | null;
}

interface WorkspaceDoc {
  _id: string;
  createdAt: Date;
}

export interface ApiKeyInfo {
  id: string;
  prefix: string;
  label: string;
  workspace: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** Who a verified key speaks for. */
export interface Principal {
  keyId: string;
  workspace: string;
}

const sha256 = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();
const info = ({ _id, hash: _hash, ...rest }: ApiKeyDoc): ApiKeyInfo => ({ id: _id, ...rest });

export function assertWorkspaceSlug(slug: string): void {
  if (!WORKSPACE_SLUG.test(slug)) throw invalidArgument(`workspace "${slug}" must match [a-z0-9][a-z0-9-]{1,62}`, 'workspace');
}

/** How stale this instance's view of revocations may get: a revoked key stops working everywhere within it. */
const REVOCATION_CHECK_MS = 500;
/** Verified keys remembered per instance, at most. */
const MAX_VERIFIED = 10_000;
const REVOCATIONS_ID = 'revocations';

/**
 * API keys (collection `api_keys`) and the workspaces they create (collection `workspaces`).
 * A verified key is remembered, so a request costs no read of `api_keys` (a scan on FerretDB);
 * every revocation changes one counter (collection `api_key_versions`, read by `_id`), which each
 * instance reads at most every REVOCATION_CHECK_MS and forgets what it verified when it moved.
 */
export class ApiKeyStore {
  private readonly keys: Collection<ApiKeyDoc>;
  private readonly workspaces: Collection<WorkspaceDoc>;
  private readonly versions: Collection<VersionDoc>;
  private readonly verified = new Map<string, Principal>();
  private revocations = { version: 0, checkedAt: -Infinity };
  private checkingRevocations: Promise<void> | undefined;

  constructor(db: Db) {
    this.keys = db.collection<ApiKeyDoc>('api_keys');
    this.workspaces = db.collection<WorkspaceDoc>('workspaces');
    this.versions = db.collection('api_key_versions');
  }

  async init(): Promise<void> {
    await this.keys.createIndex({ hash: 1 }, { unique: true, name: 'hash_unique' });
    await this.keys.createIndex({ workspace: 1, createdAt: 1 }, { name: 'workspace_created' });
    await this.keys.createIndex({ prefix: 1 }, { name: 'prefix' });
  }

  /** Returns the key itself: the only moment it exists outside the caller's hands. */
  async create(workspace: string, label = '', mode: ApiKeyMode = 'live'): Promise<{ key: string; info: ApiKeyInfo }> {
    assertWorkspaceSlug(workspace);
    const now = new Date();
    await this.workspaces.updateOne({ _id: workspace }, { $setOnInsert: { createdAt: now } }, { upsert: true });
    const key = newApiKey(mode);
    const doc: ApiKeyDoc = {
      _id: newApiKeyId(),
      hash: sha256(key).toString('hex'),
      prefix: key.slice(0, KEY_PREFIX_LENGTH),
      label,
      workspace,
      createdAt: now,
      revokedAt: null,
    };
    await this.keys.insertOne(doc);
    return { key, info: info(doc) };
  }

  /** null for a malformed, unknown or revoked key: callers answer all three the same way. */
  async verify(key: string): Promise<Principal | null> {
    if (!ID_PATTERNS.apiKey.test(key) || key.length > 128) return null;
    const hash = sha256(key);
    const hex = hash.toString('hex');
    await this.checkRevocations();
    const known = this.verified.get(hex);
    if (known) return known;
    const doc = await this.keys.findOne({ hash: hex });
    if (!doc || doc.revokedAt !== null) return null;
    // The lookup already matched; the constant-time compare keeps the check itself free of timing signal.
    if (!timingSafeEqual(Buffer.from(doc.hash, 'hex'), hash)) return null;
    const principal = { keyId: doc._id, workspace: doc.workspace };
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(hex, principal);
    return principal;
  }

  /**
   * Forgets every verified key once a revocation happened anywhere. Past half the bound a read is
   * started and not waited for, so under traffic no request waits on the store for it; past the
   * bound (a quiet spell, or a store that does not answer) requests wait, so the bound holds.
   */
  private checkRevocations(): Promise<void> {
    const age = performance.now() - this.revocations.checkedAt;
    if (age < REVOCATION_CHECK_MS / 2) return Promise.resolve();
    this.checkingRevocations ??= (async () => {
      const checkedAt = performance.now();
      const version = (await this.versions.findOne({ _id: REVOCATIONS_ID }))?.version ?? 0;
      if (version !== this.revocations.version) this.verified.clear();
      this.revocations = { version, checkedAt };
    })().finally(() => (this.checkingRevocations = undefined));
    if (age < REVOCATION_CHECK_MS) {
      this.checkingRevocations.catch(() => {});
      return Promise.resolve();
    }
    return this.checkingRevocations;
  }

  async list(workspace: string): Promise<ApiKeyInfo[]> {
    assertWorkspaceSlug(workspace);
    return (await readAll(this.keys.find({ workspace }).sort({ createdAt: 1, _id: 1 }))).map(info);
  }

  /** By id (`key_…`) or by the prefix shown in `list`; an ambiguous prefix is refused. */
  async revoke(prefixOrId: string): Promise<ApiKeyInfo> {
    const matches = await readAll(this.keys.find({ $or: [{ _id: prefixOrId }, { prefix: prefixOrId }] }).limit(2));
    if (matches.length === 0) throw new DomainError('not_found', `no API key with id or prefix "${prefixOrId}"`);
    if (matches.length > 1) throw invalidArgument(`prefix "${prefixOrId}" matches several keys: revoke by id`, 'key');
    const doc = matches[0]!;
    const revokedAt = doc.revokedAt ?? new Date();
    await this.keys.updateOne({ _id: doc._id }, { $set: { revokedAt } });
    await markChanged(this.versions, REVOCATIONS_ID);
    this.verified.clear();
    return info({ ...doc, revokedAt });
  }

  async isEmpty(): Promise<boolean> {
    return (await this.keys.findOne({}, { projection: { _id: 1 } })) === null;
  }
}
