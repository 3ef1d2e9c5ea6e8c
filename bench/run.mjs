#!/usr/bin/env node
// `npm run bench [-- --quick]`: the benchmark of the built service (run `npm run build` first).
import { runCli } from '../dist/cli/main.js';

process.exitCode = await runCli(['bench', ...process.argv.slice(2)]);
