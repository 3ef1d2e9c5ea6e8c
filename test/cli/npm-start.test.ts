import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAlive, spawnLogged } from '../helpers/child.js';
import { serviceProcessEnv } from '../helpers/service.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const env = await serviceProcessEnv('npmstart');

describe.sequential('npm start', () => {
  it.each([
    ['SIGINT sent to the npm process', (pid: number) => process.kill(pid, 'SIGINT')],
    ['SIGTERM sent to the npm process', (pid: number) => process.kill(pid, 'SIGTERM')],
    // A terminal's Ctrl-C reaches npm and the service at once, and npm relays it again.
    ['Ctrl-C in a terminal (SIGINT to the process group)', (pid: number) => process.kill(-pid, 'SIGINT')],
  ])('stops the service on %s', async (_, signal) => {
    // --ignore-scripts leaves out prestart's build check: the start script itself is what is tested here.
    const npm = spawnLogged('npm', ['start', '--ignore-scripts'], { cwd: ROOT, env, detached: true });
    const started = JSON.parse(await npm.line(/"msg":"service started"/, 90_000)) as { pid: number; apiPort: number };
    expect((await fetch(`http://127.0.0.1:${started.apiPort}/healthz`)).status).toBe(200);

    const sentAt = Date.now();
    signal(npm.child.pid!);
    expect(await npm.exitsWithin(10_000), npm.output()).toBe(true);
    const stoppedIn = Date.now() - sentAt;
    expect(npm.output()).toMatch(/"msg":"shutting down"/);
    expect(npm.output()).toMatch(/"msg":"stopped"/);
    expect(isAlive(started.pid)).toBe(false);
    expect(stoppedIn).toBeLessThan(10_000);
  }, 120_000);
});
