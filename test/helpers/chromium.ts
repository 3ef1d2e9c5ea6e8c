import { existsSync } from 'node:fs';
import { hasCommand, run } from '../../src/stack/process.js';
import { Progress, type Say } from '../../src/log/progress.js';

/** Debian's Chromium, which the dashboard's browser tests drive (they never download a browser). */
export const CHROMIUM = '/usr/bin/chromium';

export interface ChromiumOptions {
  say: Say;
  /** Where the browser must be. */
  path?: string;
  isRoot?: boolean;
  /** The apt-get to run (a stand-in in tests). */
  aptGet?: string;
}

/**
 * Makes sure the browser is there before any test runs: installed from Debian's packages when
 * missing and this is root with apt-get (as the local stack provisions its servers), otherwise
 * an error naming the one command to run.
 */
export async function ensureChromium({ say, path = CHROMIUM, isRoot = process.getuid?.() === 0, aptGet = 'apt-get' }: ChromiumOptions): Promise<void> {
  if (existsSync(path)) return;
  const packages = ['install', '-y', '--no-install-recommends', 'chromium'];
  const hasAptGet = await hasCommand(aptGet);
  if (!isRoot || !hasAptGet) {
    const sudo = isRoot ? '' : 'sudo ';
    const command = hasAptGet
      ? `${sudo}apt-get update && ${sudo}apt-get ${packages.join(' ')}`
      : `install Chromium with your system's package manager, so that ${path} is its executable`;
    throw new Error(`Chromium is missing at ${path}: the dashboard tests drive it. Install it with:\n\n  ${command}\n`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const progress = new Progress(say);
  await progress.step(`Chromium is missing at ${path}: installing it from Debian's packages (apt-get, first run only)`, 'installing Chromium', async () => {
    await run(aptGet, ['update'], { env });
    await run(aptGet, packages, { env });
  });
  if (!existsSync(path)) throw new Error(`apt-get installed chromium, but ${path} is still missing`);
}
