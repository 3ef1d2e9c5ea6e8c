import { describe, expect, it } from 'vitest';
import { runService } from '../../src/cli/serve-command.js';
import { createLogger } from '../../src/log/logger.js';
import { testServiceConfig } from '../helpers/service.js';

/*
 * A worker of `serve --workers` tells its primary it is ready, and from then on the primary (and a
 * terminal's Ctrl-C) may signal it. A signal that came before the handlers were on killed it
 * outright, which the primary reports as work abandoned.
 */
describe('runService', () => {
  it('handles SIGINT and SIGTERM before it reports ready', async () => {
    const config = await testServiceConfig('run-signals');
    const before = { SIGINT: new Set(process.listeners('SIGINT')), SIGTERM: new Set(process.listeners('SIGTERM')) };
    const added = (signal: 'SIGINT' | 'SIGTERM') => process.listeners(signal).filter((l) => !before[signal].has(l));
    let atReady: { SIGINT: number; SIGTERM: number } | undefined;
    const code = await runService(config, ['api', 'matcher', 'dispatcher'], createLogger({ level: config.logLevel }), {
      started: () => {
        atReady = { SIGINT: added('SIGINT').length, SIGTERM: added('SIGTERM').length };
        // Stop it as Ctrl-C would, once its handler is on (on the code before, only after ready).
        setImmediate(() => (added('SIGINT')[0] as (signal: string) => void)('SIGINT'));
      },
    });
    expect(atReady).toEqual({ SIGINT: 1, SIGTERM: 1 });
    expect(code).toBe(0);
  }, 120_000);
});
