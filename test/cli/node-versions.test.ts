import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { spawnLogged } from '../helpers/child.js';
import { serviceProcessEnv } from '../helpers/service.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const env = await serviceProcessEnv('nodeversions');

/**
 * The service as built (dist/) under the other supported Node majors, taken from the `node`
 * npm packages (the suite itself runs on the machine's Node, 20.19+).
 */
describe.sequential('supported Node versions', () => {
  it.for(['22', '24'])('Node %s runs the built service: it starts, answers /healthz and /readyz, and stops on SIGTERM', { timeout: 300_000 }, async (major, { skip }) => {
    let node: string;
    try {
      // npx keeps the package in its cache: only the first run downloads it.
      const { stdout } = await exec('npx', ['-y', `node@${major}`, '-p', 'process.execPath'], { cwd: ROOT, timeout: 180_000 });
      node = stdout.trim().split('\n').pop()!;
    } catch (error) {
      process.stderr.write(`[node-versions] SKIPPED Node ${major}: the node@${major} npm package could not be fetched: ${(error as Error).message.split('\n')[0]}\n`);
      return skip(`node@${major} could not be fetched from the npm registry`);
    }
    const { stdout: version } = await exec(node, ['--version']);
    expect(version.trim()).toMatch(new RegExp(`^v${major}\\.`));

    const service = spawnLogged(node, ['bin/humiris-webhooks.js', 'serve'], { cwd: ROOT, env });
    const { apiPort } = JSON.parse(await service.line(/"msg":"service started"/, 90_000)) as { apiPort: number };
    expect((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${apiPort}/readyz`)).status).toBe(200);

    service.child.kill('SIGTERM');
    expect(await service.exitsWithin(15_000), service.output()).toBe(true);
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(service.output()).toMatch(/"msg":"stopped"/);
    // Nothing our dependencies print on this Node (deprecations, experimental warnings).
    expect(service.output()).not.toMatch(/Warning:/);
  });
});
