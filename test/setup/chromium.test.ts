import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../helpers/chromium.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'humiris-chromium-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** An apt-get that records its arguments and "installs" the browser by creating the file (or fails). */
async function fakeAptGet(browser: string, exitCode = 0): Promise<{ aptGet: string; calls: () => Promise<string[]> }> {
  const aptGet = path.join(dir, `apt-get-for-${path.basename(browser)}`);
  const log = `${aptGet}.log`;
  await writeFile(
    aptGet,
    `#!/bin/sh\necho "$*" >> "${log}"\nif [ "$1" = install ]; then [ ${exitCode} = 0 ] && touch "${browser}"; echo "E: Unable to locate package chromium" >&2; fi\nexit ${exitCode}\n`,
  );
  await chmod(aptGet, 0o755);
  return { aptGet, calls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean) };
}

describe('ensureChromium (test global set-up)', () => {
  it('does nothing when the browser is there', async () => {
    const lines: string[] = [];
    const browser = path.join(dir, 'present');
    await writeFile(browser, '');
    const { aptGet, calls } = await fakeAptGet(browser);
    await ensureChromium({ say: (l) => lines.push(l), path: browser, isRoot: true, aptGet });
    expect(lines).toEqual([]);
    expect(await calls()).toEqual([]);
  });

  it('as root with apt-get, installs it from Debian with a progress line', async () => {
    const lines: string[] = [];
    const browser = path.join(dir, 'installed');
    const { aptGet, calls } = await fakeAptGet(browser);
    await ensureChromium({ say: (l) => lines.push(l), path: browser, isRoot: true, aptGet });
    expect(await calls()).toEqual(['update', 'install -y --no-install-recommends chromium']);
    expect(lines[0]).toMatch(/^Chromium is missing at .*: installing it from Debian's packages/);
    expect(lines.at(-1)).toMatch(/^ {2}installing Chromium: done in \d+ s$/);
  });

  it('fails at once with the one command to run when it cannot install', async () => {
    const browser = path.join(dir, 'missing');
    const { aptGet, calls } = await fakeAptGet(browser);
    const started = Date.now();
    await expect(ensureChromium({ say: () => {}, path: browser, isRoot: false, aptGet })).rejects.toThrow(
      'Install it with:\n\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium\n',
    );
    await expect(ensureChromium({ say: () => {}, path: browser, isRoot: true, aptGet: path.join(dir, 'no-such-apt-get') })).rejects.toThrow(
      "install Chromium with your system's package manager",
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await calls()).toEqual([]);
  });

  it("passes on apt-get's own error", async () => {
    const browser = path.join(dir, 'unavailable');
    const { aptGet } = await fakeAptGet(browser, 100);
    await expect(ensureChromium({ say: () => {}, path: browser, isRoot: true, aptGet })).rejects.toThrow(/exited with 100/);
  });
});
