#!/usr/bin/env node
// Builds dist/ (TypeScript, then the dashboard), saying what it does at most 10 s apart.
// With --if-stale it does nothing when dist/ is newer than every input, so `npm start` and
// `npm test` after `npm ci` (which builds through `prepare`) do not build a second time.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const STAMP = path.join(root, 'dist', '.build-stamp');
/** What the build reads; a directory's own time changes when an entry is added, removed or renamed. */
const INPUTS = ['src', 'web', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];
const QUIET_MS = 9_000;

/** Newest modification time under the inputs, test files left out (the build skips them). */
export function newestInput(dir = root, inputs = INPUTS) {
  let newest = 0;
  const visit = (file) => {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat) return;
    newest = Math.max(newest, stat.mtimeMs);
    if (!stat.isDirectory()) return;
    for (const entry of readdirSync(file)) {
      if (entry === 'node_modules' || entry.endsWith('.test.ts')) continue;
      visit(path.join(file, entry));
    }
  };
  for (const input of inputs) visit(path.join(dir, input));
  return newest;
}

export function isStale(dir = root, inputs = INPUTS) {
  const stamp = statSync(path.join(dir, 'dist', '.build-stamp'), { throwIfNoEntry: false });
  return !stamp || stamp.mtimeMs < newestInput(dir, inputs);
}

function step(what, doing, command, args) {
  const started = Date.now();
  process.stdout.write(`${what}\n`);
  let last = Date.now();
  const heartbeat = setInterval(() => {
    if (Date.now() - last < QUIET_MS) return;
    last = Date.now();
    process.stdout.write(`  … still ${doing} (${Math.round((Date.now() - started) / 1000)} s)\n`);
  }, 500);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(heartbeat);
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} exited with ${code}`));
      process.stdout.write(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      resolve();
    });
  });
}

async function build() {
  // The stamp carries the build's start: an input changed during the build leaves it stale.
  const startedAt = new Date();
  const bin = (name) => path.join(root, 'node_modules', '.bin', name);
  await step('Compiling TypeScript into dist/', 'compiling TypeScript', bin('tsc'), ['-p', 'tsconfig.build.json']);
  await step('Building the dashboard into dist/dashboard/', 'building the dashboard', bin('vite'), ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
  writeFileSync(STAMP, `${startedAt.toISOString()}\n`);
  utimesSync(STAMP, startedAt, startedAt);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale');
  if (ifStale && existsSync(STAMP) && !isStale()) {
    process.stdout.write('dist/ is up to date\n');
  } else {
    await build().catch((error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    });
  }
}
