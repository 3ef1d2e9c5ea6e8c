import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { listenCommand } from '../../src/cli/listen-command.js';
import { runService } from '../../src/cli/serve-command.js';
import { testServiceConfig } from '../helpers/service.js';

/*
 * Once `serve` says it started (its "service started" line, or a worker's message to its primary),
 * whoever waits for that may signal it at once: a primary, a terminal's Ctrl-C, a supervisor, a
 * test. A signal that came before the handlers were on killed the process outright, which a
 * primary reports as work abandoned.
 */
/** The SIGINT and SIGTERM listeners added since it was called, and a Ctrl-C delivered to the first SIGINT one. */
function addedHandlers() {
  const before = { SIGINT: new Set(process.listeners('SIGINT')), SIGTERM: new Set(process.listeners('SIGTERM')) };
  const added = (signal: 'SIGINT' | 'SIGTERM') => process.listeners(signal).filter((l) => !before[signal].has(l));
  // On the next turn: by then the handler is on (on the code before, only after the ready line).
  const ctrlC = () => setImmediate(() => (added('SIGINT')[0] as (signal: string) => void)('SIGINT'));
  return { ctrlC, handlers: () => ({ SIGINT: added('SIGINT').length, SIGTERM: added('SIGTERM').length }) };
}

describe('signals right after a command says it is ready', () => {
  it('serve handles SIGINT and SIGTERM before it says it started', async () => {
    const config = await testServiceConfig('run-signals');
    const { ctrlC, handlers } = addedHandlers();
    let atLine: ReturnType<typeof handlers> | undefined;
    let atReady: ReturnType<typeof handlers> | undefined;
    const logger = pino({ level: 'info' }, { write: (line: string) => void (line.includes('"msg":"service started"') && (atLine = handlers())) });
    const code = await runService(config, ['api', 'matcher', 'dispatcher'], logger, {
      started: () => {
        atReady = handlers();
        ctrlC();
      },
    });
    expect(atLine).toEqual({ SIGINT: 1, SIGTERM: 1 });
    expect(atReady).toEqual({ SIGINT: 1, SIGTERM: 1 });
    expect(code).toBe(0);
  }, 120_000);

  it('listen handles SIGINT and SIGTERM before it says it listens', async () => {
    const { ctrlC, handlers } = addedHandlers();
    let atLine: ReturnType<typeof handlers> | undefined;
    const write = process.stdout.write.bind(process.stdout);
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: any[]) => {
      if (String(chunk).startsWith('Listening on ') && !atLine) {
        atLine = handlers();
        ctrlC();
      }
      return write(chunk, ...rest);
    });
    try {
      expect(await listenCommand(['--port', '0', '--secret', 'whsec_local'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(atLine).toEqual({ SIGINT: 1, SIGTERM: 1 });
  }, 30_000);
});
