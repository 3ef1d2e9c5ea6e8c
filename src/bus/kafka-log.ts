/**
 * Errors a broker answers while it, a consumer group or a new topic settles (a broker just
 * started, a topic just created, a leader just moved, a member joined a group). kafkajs logs each at ERROR and retries.
 */
const SETTLING = [
  'The group coordinator is not available',
  'This is not the correct coordinator for this group',
  "The coordinator is loading and hence can't process requests for this group",
  'This server is not the leader for that topic-partition',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
  'This server does not host this topic-partition',
  // A member joined or left (another instance, a worker of `serve --workers`): the others rejoin.
  'The group is rebalancing',
];

/** How long one of them may go on before it is logged at its own level. */
export const SETTLE_MS = 60_000;

export type KafkaLogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * Demotes the settling errors to debug while they are young; one that keeps coming back for
 * SETTLE_MS is logged at its own level from then on, with how long it has been failing. An
 * episode ends after SETTLE_MS without the error, so a later blip is quiet again.
 */
export class SettlingErrors {
  private readonly episodes = new Map<string, { startedAt: number; lastAt: number }>();

  constructor(
    private readonly settleMs = SETTLE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  level(level: KafkaLogLevel, texts: unknown[]): { level: KafkaLogLevel; failingForMs?: number } {
    if (level !== 'error' && level !== 'warn') return { level };
    const key = SETTLING.find((message) => texts.some((text) => typeof text === 'string' && text.includes(message)));
    if (key === undefined) return { level };
    const now = this.now();
    let episode = this.episodes.get(key);
    if (episode === undefined || now - episode.lastAt > this.settleMs) {
      episode = { startedAt: now, lastAt: now };
      this.episodes.set(key, episode);
    }
    episode.lastAt = now;
    const failingForMs = now - episode.startedAt;
    return failingForMs < this.settleMs ? { level: 'debug' } : { level, failingForMs };
  }
}
