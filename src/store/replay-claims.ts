import type { Collection, Db } from 'mongodb';
import type { ReplayClaims } from '../pipeline/ports.js';
import { insertNew, isDuplicateKey } from './mongo.js';

type ClaimDoc = { _id: string; claimedAt: Date };

/** A claim this old whose attempt never came (its process stopped before queueing it) may be taken again. */
const STALE_AFTER_MS = 10 * 60_000;

/**
 * Replay claims in MongoDB (collection `delivery_replays`), one document per (delivery, attempt
 * number). Only an insert under a unique `_id` is atomic on every MongoDB wire server (FerretDB
 * loses concurrent conditional updates), so a claim is exactly that insert.
 */
export class ReplayClaimStore implements ReplayClaims {
  private readonly claims: Collection<ClaimDoc>;

  constructor(
    db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.claims = db.collection<ClaimDoc>('delivery_replays');
  }

  async claim(deliveryId: string, attempt: number): Promise<boolean> {
    const _id = `${deliveryId}:${attempt}`;
    if (await this.insert(_id)) return true;
    const held = await this.claims.findOne({ _id });
    if (!held || this.now().getTime() - held.claimedAt.getTime() < STALE_AFTER_MS) return false;
    // Contenders for one stale claim all try one successor insert named after it, and only one
    // gets it: a delete and re-insert is not atomic on FerretDB, whose conditional delete can
    // remove the claim another contender has just made.
    if (!(await this.insert(`${_id}@${held.claimedAt.getTime()}`))) return false;
    await this.claims.updateOne({ _id }, { $set: { claimedAt: this.now() } });
    return true;
  }

  async claimMany(claims: Array<{ deliveryId: string; attempt: number }>): Promise<boolean[]> {
    // One unordered insert for all; only the ones it refuses (held, perhaps stale) are looked at one by one.
    const now = this.now();
    const refused = new Set(await insertNew(this.claims, claims.map((c) => ({ _id: `${c.deliveryId}:${c.attempt}`, claimedAt: now }))));
    const claimed: boolean[] = [];
    for (const [i, c] of claims.entries()) claimed.push(!refused.has(i) || (await this.claim(c.deliveryId, c.attempt)));
    return claimed;
  }

  async release(deliveryId: string, attempt: number): Promise<void> {
    await this.claims.deleteOne({ _id: `${deliveryId}:${attempt}` });
  }

  private async insert(_id: string): Promise<boolean> {
    try {
      await this.claims.insertOne({ _id, claimedAt: this.now() });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }
}
