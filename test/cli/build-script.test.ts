import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url));

/**
 * scripts/build.mjs in a project of its own, whose tsc and vite only record that they ran:
 * what is tested is when it builds, not the compilers.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'humiris-build-'));
  await mkdir(path.join(dir, 'scripts'));
  await copyFile(SCRIPT, path.join(dir, 'scripts', 'build.mjs'));
  await mkdir(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  for (const tool of ['tsc', 'vite']) {
    const file = path.join(dir, 'node_modules', '.bin', tool);
    await writeFile(file, `#!/bin/sh\nmkdir -p dist && echo ${tool} >> "${dir}/calls.log"\n`);
    await chmod(file, 0o755);
  }
  await mkdir(path.join(dir, 'src', 'api'), { recursive: true });
  await mkdir(path.join(dir, 'web'));
  await writeFile(path.join(dir, 'src', 'api', 'server.ts'), 'export {};\n');
  await writeFile(path.join(dir, 'src', 'api', 'old.ts'), 'export {};\n');
  await writeFile(path.join(dir, 'web', 'index.html'), '<html></html>\n');
  await writeFile(path.join(dir, 'package.json'), '{}\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function build(...args: string[]): Promise<{ stdout: string; ran: string[] }> {
  await rm(path.join(dir, 'calls.log'), { force: true });
  const { stdout } = await exec('node', [path.join(dir, 'scripts', 'build.mjs'), ...args], { cwd: dir });
  const ran = (await readFile(path.join(dir, 'calls.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { stdout, ran };
}

const touch = (file: string) => utimes(file, new Date(), new Date());

describe('scripts/build.mjs', () => {
  it('builds once: --if-stale after a build does nothing, and builds again after a change', async () => {
    expect((await build('--if-stale')).ran).toEqual(['tsc', 'vite']);
    const fresh = await build('--if-stale');
    expect(fresh).toEqual({ stdout: 'dist/ is up to date\n', ran: [] });

    await touch(path.join(dir, 'src', 'api', 'server.ts'));
    expect((await build('--if-stale')).ran).toEqual(['tsc', 'vite']);
  });

  it('counts a removed source file and a changed dashboard file as changes, test files not', async () => {
    await writeFile(path.join(dir, 'src', 'api', 'server.test.ts'), 'export {};\n');
    await build();
    await touch(path.join(dir, 'src', 'api', 'server.test.ts'));
    expect((await build('--if-stale')).ran).toEqual([]);

    await rm(path.join(dir, 'src', 'api', 'old.ts'));
    expect((await build('--if-stale')).ran).toEqual(['tsc', 'vite']);

    await touch(path.join(dir, 'web', 'index.html'));
    expect((await build('--if-stale')).ran).toEqual(['tsc', 'vite']);
  });

  it('says each step as it starts and ends', async () => {
    const { stdout } = await build();
    expect(stdout).toMatch(/^Compiling TypeScript into dist\/\n {2}done in \d+\.\d s\nBuilding the dashboard into dist\/dashboard\/\n {2}done in \d+\.\d s\n$/);
  });
});
