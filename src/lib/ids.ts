/** Identifiers that sort by creation time and stay readable: `20261123T091500Z-3fa9c1`. */
import { randomBytes } from 'node:crypto';
import type { Clock } from './time.js';

export function newId(clock: Clock, random: () => string = () => randomBytes(3).toString('hex')): string {
  const stamp = new Date(clock()).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${stamp}-${random()}`;
}
