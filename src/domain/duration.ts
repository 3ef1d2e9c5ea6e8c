const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+)(ms|s|m|h|d)$/;

/** Parses a duration such as `30s`, `5m`, `2h`, `24h` or `250ms` into milliseconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new RangeError(`"${text}" is not a duration (expected a whole number followed by ms, s, m, h or d, e.g. 30s)`);
  const ms = Number(match[1]) * UNITS[match[2]!]!;
  if (ms <= 0) throw new RangeError(`"${text}" must be longer than zero`);
  return ms;
}
