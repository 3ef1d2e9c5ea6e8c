import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFinished } from 'vitest';

export interface LoggedChild {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** The first whole line of output matching, waiting for it up to timeoutMs; throws with the output when the process exits first. */
  line(match: RegExp, timeoutMs: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether it exited within ms. */
  exitsWithin(ms: number): Promise<boolean>;
}

/**
 * Spawns a command inside a test, collecting its output; whatever is still running when the
 * test finishes is SIGKILLed (its whole process group when detached).
 */
export function spawnLogged(command: string, args: string[], options: SpawnOptions = {}): LoggedChild {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: string) => {
    output += chunk;
    for (const wake of waiters) wake();
  };
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      done = true;
      for (const wake of waiters) wake();
      resolve({ code, signal });
    }),
  );
  onTestFinished(() => {
    if (done || child.pid === undefined) return;
    try {
      process.kill(options.detached ? -child.pid : child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });

  const find = (match: RegExp) => output.split('\n').find((l, i, all) => i < all.length - 1 && match.test(l));
  return {
    child,
    output: () => output,
    exited,
    exitsWithin: (ms) => Promise.race([exited.then(() => true), sleep(ms).then(() => false)]),
    async line(match, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = find(match);
        if (found !== undefined) return found;
        if (done) throw new Error(`${command} ${args.join(' ')} exited before printing ${match}:\n${output.slice(-4_000)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${command} ${args.join(' ')} printed no ${match} within ${timeoutMs} ms:\n${output.slice(-4_000)}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
  };
}

/** Whether a process id is alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
