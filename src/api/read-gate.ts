import { DomainError } from '../domain/errors.js';

export interface ReadGateOptions {
  /** Reads one workspace may run at once. */
  perWorkspace: number;
  /** Reads all workspaces together may run at once: what the store can scan beside the pipeline's writes. */
  total: number;
  /** Reads of one workspace that may wait for a slot; one more is refused at once. */
  maxWaiting: number;
  /** Longest a read waits for its slot before it is refused. */
  maxWaitMs: number;
}

/** A read refused a slot; `retryAfterSeconds` is when trying again makes sense. */
export class ReadRefusedError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('resource_exhausted', message, { retryable: true });
  }
}

interface Waiter {
  workspace: string;
  grant: () => void;
}

/**
 * Bounds the reads that scan (delivery pages, webhook lists) the API runs at once, per workspace and
 * in all. On FerretDB a page of a busy hour scans its whole shard (seconds for tens of thousands of
 * deliveries), and reads that
 * pile up take every store connection and every core the store has, so the pipeline's writes, and
 * with them every workspace's deliveries, wait behind one workspace's reads. A read over its
 * workspace's share waits in line (a workspace whose share is taken never holds up another's), and
 * is refused with `resource_exhausted` (HTTP 429) when too many already wait or its wait runs out.
 */
export class ReadGate {
  readonly #options: ReadGateOptions;
  readonly #running = new Map<string, number>();
  readonly #waiting: Waiter[] = [];
  #total = 0;

  constructor(options: ReadGateOptions) {
    for (const [name, value] of Object.entries(options)) {
      if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive whole number, got ${value}`);
    }
    this.#options = { ...options };
  }

  /** Runs `read` once it has a slot; `signal` (the caller gone) gives the place in line up. */
  async run<T>(workspace: string, read: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!this.#free(workspace)) await this.#wait(workspace, signal);
    else this.#take(workspace);
    try {
      return await read();
    } finally {
      this.#release(workspace);
    }
  }

  #free(workspace: string): boolean {
    return this.#total < this.#options.total && (this.#running.get(workspace) ?? 0) < this.#options.perWorkspace;
  }

  #take(workspace: string): void {
    this.#total++;
    this.#running.set(workspace, (this.#running.get(workspace) ?? 0) + 1);
  }

  #release(workspace: string): void {
    this.#total--;
    const left = this.#running.get(workspace)! - 1;
    if (left === 0) this.#running.delete(workspace);
    else this.#running.set(workspace, left);
    // First in line among those whose workspace has a slot free.
    for (let i = 0; i < this.#waiting.length && this.#total < this.#options.total; ) {
      const waiter = this.#waiting[i]!;
      if (!this.#free(waiter.workspace)) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      this.#take(waiter.workspace);
      waiter.grant();
    }
  }

  #wait(workspace: string, signal?: AbortSignal): Promise<void> {
    const { maxWaiting, maxWaitMs, perWorkspace } = this.#options;
    if (this.#waiting.filter((w) => w.workspace === workspace).length >= maxWaiting) {
      return Promise.reject(new ReadRefusedError(`too many reads at once for this workspace: ${perWorkspace} run and ${maxWaiting} wait at most; send the next when one has answered`, 1));
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (error: ReadRefusedError) => {
        const at = this.#waiting.indexOf(waiter);
        if (at < 0) return;
        this.#waiting.splice(at, 1);
        clearTimeout(timer);
        signal?.removeEventListener('abort', cancelled);
        reject(error);
      };
      const cancelled = () => leave(new ReadRefusedError('the caller went away while its read waited', 1));
      const timer = setTimeout(
        () => leave(new ReadRefusedError(`the store is busy with other reads: no slot within ${maxWaitMs / 1000} s; try again shortly`, Math.ceil(maxWaitMs / 1000))),
        maxWaitMs,
      );
      const waiter: Waiter = {
        workspace,
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', cancelled);
          resolve();
        },
      };
      this.#waiting.push(waiter);
      signal?.addEventListener('abort', cancelled, { once: true });
    });
  }
}
