/**
 * Sizes as Compose writes them ("512M", "1.5g", "64kb", 1024): units are case-insensitive
 * powers of 1024, like compose-go's `units.RAMInBytes`. Returns whole bytes.
 */
const unitBytes: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

const sizePattern = /^(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)$/i;

/** Parses a size into bytes; throws `Error` naming the input when it is not one. */
export function parseBytes(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new Error(`invalid size ${input}`);
    return Math.floor(input);
  }
  const m = sizePattern.exec(input.trim());
  const unit = m ? unitBytes[(m[2] as string).toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`invalid size "${input}"`);
  return Math.floor(Number(m[1]) * unit);
}

/** 1536 → "1.5 KiB", for progress lines. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}
