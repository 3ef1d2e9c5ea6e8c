import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';
import { apiKeyCommand } from './api-key-command.js';
import { benchCommand } from './bench-command.js';
import { dlqCommand } from './dlq-command.js';
import { listenCommand } from './listen-command.js';
import { stackCommand } from './stack-command.js';
import { serveCommand } from './serve-command.js';

const USAGE = `Usage: humiris-webhooks <command>

  serve [--roles api,matcher,dispatcher,retry]   run the service (default: all roles)
        [--workers N|auto]                       ...in N processes on the same port (default 1, WEBHOOKS_WORKERS)
  stack up|down|status                           the local Kafka + MongoDB stack
  api-key create|list|revoke                     API keys of a workspace (api-key --help)
  bench [--quick]                                end-to-end benchmark on the local stack (bench --help)
  dlq [--follow] [--limit N]                     print the dead-letter topic
  dlq redrive [--webhook ID] [--since T] [--dry-run]  queue dead-lettered deliveries again (dlq redrive --help)
  listen [--port 4000] [--status 200]            a local receiver that prints and verifies deliveries (listen --help)
`;

/** Entry point of the `humiris-webhooks` command; returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(loadConfig(), parseArgs({ args: rest, options: { roles: { type: 'string' }, workers: { type: 'string' } } }).values);
      case 'stack':
        return await stackCommand(loadConfig(), rest);
      case 'api-key':
        return await apiKeyCommand(loadConfig(), rest);
      case 'bench':
        return await benchCommand(rest);
      case 'dlq':
        return await dlqCommand(loadConfig(), rest);
      case 'listen':
        return await listenCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`Unknown command "${command}".\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Invalid configuration: ${error.message}\n`);
      return 78;
    }
    if (error instanceof Error && error.name === 'StackError') {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${error.message}\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}
