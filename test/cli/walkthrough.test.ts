import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { spawnLogged, type LoggedChild } from '../helpers/child.js';
import { ownServers } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

/*
 * The README's "A first webhook, as a new user", run from its text: each shell block marked
 * `<!-- walkthrough:<step> -->` is run with bash as written, but for three substitutions: the
 * ports (the API's 8080 and the listener's 4000 become free ones), and `npm start`, which runs
 * `serve` without its build-if-stale step (npm test has built already). Two things a user gets
 * from the local stack come from the test instead: the servers (this file's topic prefix and
 * database) and the API key that a first start prints.
 */

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

/** The walkthrough's marked shell blocks, by step name. */
function walkthroughSteps(text: string): Map<string, string> {
  const start = text.indexOf('## A first webhook, as a new user');
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end === -1 ? undefined : end);
  return new Map([...section.matchAll(/<!-- walkthrough:([\w-]+) -->\n```sh\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!]));
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** One bash session, as in the user's third terminal: variables set by one block are there for the next. */
function startShell(env: NodeJS.ProcessEnv) {
  const bash = spawn('bash', ['--noprofile', '--norc'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  bash.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  bash.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  onTestFinished(() => void bash.kill('SIGKILL'));
  let runs = 0;
  return async (script: string, timeoutMs = 60_000): Promise<string> => {
    const marker = `__step_${++runs}_exit__`;
    const from = output.length;
    bash.stdin.write(`${script}\necho "${marker} $?"\n`);
    const code = await until(`${script} to finish`, () => new RegExp(`${marker} (\\d+)`).exec(output.slice(from))?.[1], timeoutMs);
    const printed = output.slice(from, output.indexOf(marker, from));
    if (code !== '0') throw new Error(`exit ${code} from:\n${script}\n${printed}`);
    return printed;
  };
}

describe('the README walkthrough', () => {
  it('delivers to the listener, verified; fails six times into the DLQ; and a replay succeeds', { timeout: 240_000 }, async () => {
    const steps = walkthroughSteps(readme);
    expect([...steps.keys()]).toEqual(['serve', 'listen', 'create', 'publish', 'serve-fast-retries', 'listen-failing', 'dlq', 'replay', 'replayed']);

    const { env: servers, db } = await ownServers('walkthrough');
    const keys = new ApiKeyStore(db);
    await keys.init();
    const [apiPort, listenerPort] = [await freePort(), await freePort()];
    const api = `http://localhost:${apiPort}`;
    const env = {
      ...process.env,
      ...servers,
      WEBHOOKS_EVENT_PARTITIONS: '2',
      // What the local stack sets by itself.
      WEBHOOKS_ALLOW_PRIVATE_URLS: 'true',
      PORT: String(apiPort),
      HUMIRIS_API_URL: api,
      HUMIRIS_API_KEY: (await keys.create('dev', 'walkthrough')).key,
      LOG_LEVEL: 'warn',
    };
    const script = (step: string) =>
      steps
        .get(step)!
        .replaceAll('localhost:8080', `localhost:${apiPort}`)
        .replaceAll('localhost:4000', `localhost:${listenerPort}`)
        .replaceAll('--port 4000', `--port ${listenerPort}`)
        .replace(/\bnpm start\b/, 'exec node bin/humiris-webhooks.js serve');

    /** A block that keeps running, in a terminal of its own. */
    const background = (step: string) => spawnLogged('bash', ['-c', script(step)], { env, detached: true });
    const stop = async (child: LoggedChild) => {
      process.kill(-child.child.pid!, 'SIGINT');
      expect(await child.exitsWithin(30_000), `stopped:\n${child.output()}`).toBe(true);
    };
    const serve = async (step: string) => {
      const service = background(step);
      await until(
        `the service from "${step}" to be ready`,
        async () => ((await fetch(`${api}/readyz`).catch(() => undefined))?.ok ? true : undefined),
        120_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${service.output()}`);
      });
      return service;
    };
    const listen = async (step: string) => {
      const listener = background(step);
      await listener.line(/^Listening on http:\/\/localhost:\d+\/ and answering/, 60_000);
      return listener;
    };
    const run = startShell(env);

    let service = await serve('serve');
    let listener = await listen('listen');
    expect(listener.output()).toContain('Signatures are checked with the secret of each delivery’s webhook');
    const webhook = (await run(script('create'))).trim();
    expect(webhook).toMatch(/^whk_\w+$/);
    expect(await run(script('publish'))).toMatch(/\{"id":"evt_\w+"\}/);
    await listener.line(/ {2}email\.received {2}dlv_\w+ {2}attempt 1 {2}signature valid {2}→ 200$/, 30_000);

    // A failing endpoint, retried on a schedule of seconds.
    await Promise.all([stop(service), stop(listener)]);
    service = await serve('serve-fast-retries');
    listener = await listen('listen-failing');
    await run(script('publish'));
    const first = await listener.line(/email\.received {2}dlv_\w+ {2}attempt 1 {2}signature valid {2}→ 500$/, 30_000);
    const delivery = /dlv_\w+/.exec(first)![0];
    for (let attempt = 2; attempt <= 6; attempt++) {
      await listener.line(new RegExp(`email\\.received {2}${delivery} {2}attempt ${attempt} {2}signature valid {2}→ 500$`), 30_000);
    }

    // Its dead letter, a moment after the sixth attempt.
    const letter = await until('the dead letter', async () => {
      const printed = await run(script('dlq'));
      return printed
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line))
        .find((record) => JSON.stringify(record).includes(delivery));
    });
    expect(letter).toMatchObject({ key: webhook, headers: { 'x-humiris-attempts': '6', 'x-humiris-error': 'status 500' } });

    // Answering 200 again, a replay succeeds.
    await stop(listener);
    listener = await listen('listen');
    expect(await run(script('replay'))).toContain(delivery);
    await listener.line(new RegExp(`email\\.received {2}${delivery} {2}attempt 7 {2}signature valid {2}→ 200$`), 30_000);
    const replayed = await until('the replay to be recorded', async () => {
      const detail = JSON.parse(await run(script('replayed')));
      return detail.status === 'succeeded' ? detail : undefined;
    });
    expect(replayed).toMatchObject({ id: delivery, attempt_count: 7 });
    expect(replayed.attempts.map((a: { response_status: number }) => a.response_status)).toEqual([500, 500, 500, 500, 500, 500, 200]);
    await Promise.all([stop(service), stop(listener)]);
  });
});
