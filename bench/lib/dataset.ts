/**
 * The backup benchmark's dataset: ~1.5 GB incompressible in ~2000 files plus ~0.5 GB of text,
 * generated once under a cache dir (regenerated only when the marker is missing), and a
 * "1 % change" mutation that rewrites a fixed slice of it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface DatasetShape {
  readonly binaryFiles: number;
  readonly binaryFileBytes: number;
  readonly textFiles: number;
  readonly textFileBytes: number;
}

export const fullShape: DatasetShape = { binaryFiles: 2000, binaryFileBytes: 768 * 1024, textFiles: 500, textFileBytes: 1024 * 1024 };

export function datasetBytes(s: DatasetShape): number {
  return s.binaryFiles * s.binaryFileBytes + s.textFiles * s.textFileBytes;
}

const words = 'order invoice number sequence tenant customer backup restore volume snapshot deploy edge health probe alert rule channel queue retry'.split(' ');

function textBlock(bytes: number, seed: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  let x = seed >>> 0 || 1;
  while (size < bytes) {
    const n = 6 + (x % 9);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      parts.push(words[x % words.length]!);
    }
    x = (x * 1103515245 + 12345) >>> 0;
    const line = `${new Date(1_700_000_000_000 + x * 1000).toISOString()} ${parts.join(' ')} id=${x.toString(16)}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('').slice(0, bytes));
}

/** Make the dataset under `dir` unless it is already there (marker file). Returns its size in bytes. */
export function ensureDataset(dir: string, shape: DatasetShape, log: (m: string) => void): number {
  const marker = path.join(dir, '.complete');
  const want = JSON.stringify(shape);
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === want) return datasetBytes(shape);
  fs.rmSync(dir, { recursive: true, force: true });
  log(`generating dataset in ${dir} (${(datasetBytes(shape) / 1e9).toFixed(2)} GB)`);
  for (let i = 0; i < shape.binaryFiles; i++) {
    const sub = path.join(dir, 'blobs', String(i % 20).padStart(2, '0'));
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, `blob-${i}.bin`), crypto.randomBytes(shape.binaryFileBytes));
  }
  for (let i = 0; i < shape.textFiles; i++) {
    const sub = path.join(dir, 'logs', String(i % 10));
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, `app-${i}.log`), textBlock(shape.textFileBytes, i + 1));
  }
  fs.writeFileSync(marker, want);
  return datasetBytes(shape);
}

/** Rewrite ~1 % of the bytes: 1 % of the binary files get new random content, 1 % of the text files a new tail. */
export function mutateOnePercent(dir: string, shape: DatasetShape, round: number): number {
  let changed = 0;
  const nBin = Math.max(1, Math.round(shape.binaryFiles / 100));
  for (let k = 0; k < nBin; k++) {
    const i = (k * 97 + round * 13) % shape.binaryFiles;
    const file = path.join(dir, 'blobs', String(i % 20).padStart(2, '0'), `blob-${i}.bin`);
    fs.writeFileSync(file, crypto.randomBytes(shape.binaryFileBytes));
    changed += shape.binaryFileBytes;
  }
  const nText = Math.max(1, Math.round(shape.textFiles / 100));
  for (let k = 0; k < nText; k++) {
    const i = (k * 31 + round * 7) % shape.textFiles;
    const file = path.join(dir, 'logs', String(i % 10), `app-${i}.log`);
    const fd = fs.openSync(file, 'r+');
    const tail = textBlock(Math.floor(shape.textFileBytes / 2), 1000 + round * 100 + k);
    fs.writeSync(fd, tail, 0, tail.length, shape.textFileBytes - tail.length);
    fs.closeSync(fd);
    changed += tail.length;
  }
  return changed;
}
