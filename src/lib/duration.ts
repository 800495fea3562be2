/**
 * Durations as Compose writes them: Go `time.ParseDuration` strings ("1m30s", "500ms", "1h")
 * or a bare number of seconds. Returns milliseconds.
 */
const unitMs: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
const bareNumber = /^(\d+(?:\.\d*)?|\.\d+)$/;

/** Parses a duration into milliseconds; throws `Error` naming the input when it is not one. */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new Error(`invalid duration ${input}`);
    return input * 1_000;
  }
  const text = input.trim();
  if (bareNumber.test(text)) return Number(text) * 1_000;
  let total = 0;
  part.lastIndex = 0;
  while (part.lastIndex < text.length) {
    const start = part.lastIndex;
    const m = part.exec(text);
    if (!m || m.index !== start) throw new Error(`invalid duration "${input}"`);
    total += Number(m[1]) * (unitMs[m[2] as string] ?? Number.NaN);
  }
  if (text.length === 0 || !Number.isFinite(total)) throw new Error(`invalid duration "${input}"`);
  return total;
}

const leadingDays = /^(\d+(?:\.\d+)?)d(.*)$/;

/**
 * A span of time a person writes for days rather than seconds: days too ("30d", "1d12h"), then
 * a duration's units ("48h", "90m"). A bare number is refused (seconds or hours?). Returns
 * milliseconds; throws `Error` naming the input.
 */
export function parseSpan(input: string): number {
  const text = input.trim();
  const days = leadingDays.exec(text);
  const rest = days ? days[2]! : text;
  if (bareNumber.test(rest) || (rest === '' && !days)) throw new Error(`invalid span "${input}"`);
  return (days ? Number(days[1]) * 86_400_000 : 0) + (rest === '' ? 0 : parseDuration(rest));
}
