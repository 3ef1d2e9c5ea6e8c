import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { startService } from '../../src/main.js';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { kafkaBrokers, mongodbUri, useKafka, useMongo } from '../helpers/servers.js';

const exec = promisify(execFile);
const [{ prefix }, { database, db }] = await Promise.all([useKafka('start-up'), useMongo('start-up')]);

/** A port someone else holds, on every interface as the API would bind it. */
const busy = net.createServer();
await new Promise<void>((resolve) => busy.listen(0, resolve));
const busyPort = (busy.address() as net.AddressInfo).port;
afterAll(() => busy.close());

const env = {
  PORT: String(busyPort),
  KAFKA_BROKERS: kafkaBrokers().join(','),
  MONGODB_URI: mongodbUri(),
  MONGODB_DATABASE: database,
  WEBHOOKS_TOPIC_PREFIX: prefix,
  WEBHOOKS_EVENT_PARTITIONS: '2',
  LOG_LEVEL: 'warn',
};

describe('start-up on a busy port', () => {
  it('fails before the first-start API key is created or printed', async () => {
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      printed.push(String(chunk));
      return (write as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    }) as typeof process.stdout.write;
    try {
      // As on the local stack, where the dev key is made on first start.
      const config = { ...loadConfig(env), localStack: true };
      await expect(startService(config, ['api'], createLogger({ level: 'silent' }))).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      process.stdout.write = write;
    }
    expect(printed.join('')).not.toContain('HUMIRIS_API_KEY');
    expect(await new ApiKeyStore(db).isEmpty()).toBe(true);
  });

  it('serve says which port is taken, as a configuration error', async () => {
    const bin = new URL('../../bin/humiris-webhooks.js', import.meta.url).pathname;
    const result = await exec(process.execPath, [bin, 'serve', '--roles', 'api'], { env: { ...process.env, ...env } }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`Invalid configuration: PORT: port ${busyPort} is already in use`);
  });
});
