import { spawn, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export class StackError extends Error {
  override name = 'StackError';
}

/** Runs a command to completion; a failure carries the tail of its output. */
export function run(command: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => reject(new StackError(`${command} could not start: ${error.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new StackError(`${command} ${args.join(' ')} exited with ${code}:\n${tailText(output, 30)}`));
    });
  });
}

export async function hasCommand(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

export async function requireCommand(command: string, hint: string): Promise<void> {
  if (!(await hasCommand(command))) throw new StackError(`${command} not found on PATH: ${hint}`);
}

/** Starts a server that outlives this process; its output goes to logFile and its pid to pidFile. */
export async function spawnDetached(
  command: string,
  args: string[],
  files: { logFile: string; pidFile: string },
  options: SpawnOptions = {},
): Promise<number> {
  const log = openSync(files.logFile, 'a');
  try {
    const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', log, log] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (error) => reject(new StackError(`${command} could not start: ${error.message}`)));
      child.once('spawn', () => resolve(child.pid!));
    });
    child.unref();
    await writeFile(files.pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(log);
  }
}

/** The live processes whose arguments `matches` accepts, with those arguments (Linux's /proc; none elsewhere). */
export async function findProcesses(matches: (args: string[]) => boolean): Promise<Array<{ pid: number; args: string[] }>> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const found: Array<{ pid: number; args: string[] }> = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((arg) => arg !== '');
      if (matches(args)) found.push({ pid, args });
    } catch {
      // Ended meanwhile, or not ours to read.
    }
  }
  return found;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM, then SIGKILL after the grace period; removes the pid file. */
export async function stopPid(pidFile: string, graceMs = 15_000): Promise<boolean> {
  const pid = await readPid(pidFile);
  await rm(pidFile, { force: true });
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  return true;
}

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The preferred port when free, else one the OS picks. */
export async function choosePort(preferred: number, avoid: number[] = []): Promise<number> {
  if (!avoid.includes(preferred) && (await isPortFree(preferred))) return preferred;
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1' }, () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (!avoid.includes(port)) return port;
  }
}

function tailText(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function tailFile(file: string, lines = 40): Promise<string> {
  try {
    return tailText(await readFile(file, 'utf8'), lines);
  } catch {
    return '(no log)';
  }
}

/** Polls check() until it resolves truthy or the deadline passes. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, logFile?: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  const tail = logFile ? `\n--- last lines of ${logFile} ---\n${await tailFile(logFile)}` : '';
  throw new StackError(`${what} was not ready after ${Math.round(timeoutMs / 1000)} s${tail}`);
}
