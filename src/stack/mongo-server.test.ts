import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findFerretdbServing } from './mongo-server.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A process with these arguments, as a FerretDB started by `stack up` has. */
async function running(...args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1_000)', '--', ...args], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

describe.runIf(process.platform === 'linux')('findFerretdbServing', () => {
  it('finds the process serving a data dir, with its port, and only that dir', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'stack-mongo-'));
    dirs.push(dataDir);
    expect(await findFerretdbServing(dataDir)).toBeUndefined();
    // Another data dir whose name starts the same, and a process that only names the log.
    await running(`--state-dir=${dataDir}-other`, '--listen-addr=127.0.0.1:27099');
    await running(`${dataDir}.log`);
    expect(await findFerretdbServing(dataDir)).toBeUndefined();

    const server = await running('--handler=sqlite', `--state-dir=${dataDir}`, '--listen-addr=127.0.0.1:27123');
    expect(await findFerretdbServing(dataDir)).toEqual({ pid: server.pid, port: 27123 });
    server.kill('SIGKILL');
    await new Promise((resolve) => server.once('exit', resolve));
    expect(await findFerretdbServing(dataDir)).toBeUndefined();
  });
});
