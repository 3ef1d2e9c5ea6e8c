import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { DomainError } from '../domain/errors.js';
import { ApiKeyStore } from '../store/api-key-store.js';
import { connectMongo } from '../store/mongo.js';
import { withServers } from './servers.js';

export const API_KEY_USAGE = `Usage: humiris-webhooks api-key <action>

  create --workspace <slug> [--name <label>]   a new key (printed once; the last line is the key alone)
  list --workspace <slug>                      prefixes and labels, never the keys
  revoke <prefix-or-id>                        stops the key working at once
`;

const say = (line: string) => process.stdout.write(`${line}\n`);

/** MONGODB_URI, or the local stack's MongoDB (started if needed) as `serve` does. */
async function openStore(config: Config) {
  const { mongodbUri } = await withServers(config, (line) => process.stderr.write(`${line}\n`));
  const mongo = await connectMongo(mongodbUri, config.mongodbDatabase);
  const store = new ApiKeyStore(mongo.db);
  await store.init();
  return { store, close: () => mongo.client.close() };
}

export async function apiKeyCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { workspace: { type: 'string' }, name: { type: 'string' } },
  });
  const needWorkspace = () => {
    if (!values.workspace) throw new DomainError('invalid_argument', '--workspace <slug> is required');
    return values.workspace;
  };

  if (action !== 'create' && action !== 'list' && action !== 'revoke') {
    process.stderr.write(API_KEY_USAGE);
    return 2;
  }
  if (action === 'revoke' && positionals.length !== 1) {
    process.stderr.write(`api-key revoke takes one prefix or id.\n${API_KEY_USAGE}`);
    return 2;
  }

  try {
    const workspace = action === 'revoke' ? '' : needWorkspace();
    const { store, close } = await openStore(config);
    try {
      switch (action) {
        case 'create': {
          const { key, info } = await store.create(workspace, values.name ?? '');
          say(`Created API key ${info.id} (${info.prefix}…) for workspace "${workspace}". It is shown only this once:`);
          say(key);
          return 0;
        }
        case 'list': {
          const keys = await store.list(workspace);
          if (keys.length === 0) say(`No API keys in workspace "${workspace}".`);
          for (const k of keys) {
            const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
            say(`${k.id}  ${k.prefix}…  ${state.padEnd(32)}  created ${k.createdAt.toISOString()}  ${k.label}`);
          }
          return 0;
        }
        case 'revoke': {
          const info = await store.revoke(positionals[0]!);
          say(`Revoked API key ${info.id} (${info.prefix}…) of workspace "${info.workspace}".`);
          return 0;
        }
      }
    } finally {
      await close();
    }
  } catch (error) {
    if (error instanceof DomainError) {
      process.stderr.write(`${error.message}\n`);
      return error.code === 'not_found' ? 1 : 2;
    }
    throw error;
  }
}
