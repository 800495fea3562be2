/**
 * Compose service `volumes:` entries → a `VolumeSpec` still in project terms (named volume key,
 * unresolved bind path). Short syntax `SOURCE:TARGET[:MODE]` or `TARGET`, or the long form.
 * https://docs.docker.com/reference/compose-file/services/#volumes
 */
import { z } from 'zod';
import { bool, byKind, bytes, section, SpecError, text } from './schema-kit.js';

export type VolumeSpec =
  /** `source` undefined: an anonymous volume. */
  | { readonly kind: 'volume'; readonly source?: string; readonly target: string; readonly readOnly: boolean }
  /** `createHostPath`: a missing source folder is made, as Compose does for the short syntax (and `bind.create_host_path`). */
  | { readonly kind: 'bind'; readonly source: string; readonly target: string; readonly readOnly: boolean; readonly createHostPath: boolean }
  | { readonly kind: 'tmpfs'; readonly target: string; readonly options: string };

/** Modes that change nothing on Linux are accepted; others would be silently lost, so they are refused. */
const noOpModes = new Set(['rw', 'cached', 'delegated', 'consistent']);

export function parseVolumeSpec(spec: string): VolumeSpec {
  const parts = spec.split(':');
  if (parts.length > 3) throw new SpecError(`too many ":" in volume "${spec}"`);
  if (spec === '') throw new SpecError('volume is empty');
  if (parts.length > 1 && parts[0] === '') throw new SpecError(`volume source is empty in "${spec}"`);
  if (parts[1] === '') throw new SpecError(`volume target is empty in "${spec}"`);
  if (parts.some((p) => p === '')) throw new SpecError(`empty section between ":" in volume "${spec}"`);
  if (parts.length === 1) return { kind: 'volume', target: absoluteTarget(parts[0] as string, spec), readOnly: false };
  const [source = '', target = '', mode = ''] = parts;
  const readOnly = parseMode(mode, spec);
  if (isPathSource(source)) return { kind: 'bind', source, target: absoluteTarget(target, spec), readOnly, createHostPath: true };
  checkVolumeName(source, spec);
  return { kind: 'volume', source, target: absoluteTarget(target, spec), readOnly };
}

/** Compose treats a source as a host path when it starts with `.`, `/` or `~`. */
export function isPathSource(source: string): boolean {
  return /^[./~]/.test(source);
}

function parseMode(mode: string, spec: string): boolean {
  let readOnly = false;
  for (const option of mode ? mode.split(',') : []) {
    if (option === 'ro') readOnly = true;
    else if (!noOpModes.has(option)) throw new SpecError(`unsupported volume option "${option}" in "${spec}"`);
  }
  return readOnly;
}

function absoluteTarget(target: string, spec: string): string {
  if (!target.startsWith('/')) throw new SpecError(`volume target must be an absolute path in "${spec}"`);
  return target;
}

function checkVolumeName(name: string, spec: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new SpecError(`invalid volume name "${name}" in "${spec}"`);
}

const longVolume = section({
  type: z.enum(['volume', 'bind', 'tmpfs']),
  source: text.optional(),
  target: text,
  read_only: bool.optional(),
  consistency: text.optional().describe('accepted; no effect on Linux'),
  bind: section({ create_host_path: bool.optional() }).optional(),
  tmpfs: section({ size: bytes.optional() }).optional(),
}).transform((v, ctx): VolumeSpec => {
  const fail = (message: string, path: string): never => {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message, path: [path] });
    return z.NEVER;
  };
  if (!v.target.startsWith('/')) return fail('should be an absolute path', 'target');
  if (v.type === 'tmpfs') {
    if (v.source !== undefined) return fail('a tmpfs mount has no source', 'source');
    return { kind: 'tmpfs', target: v.target, options: v.tmpfs?.size === undefined ? '' : `size=${v.tmpfs.size}` };
  }
  if (v.type === 'bind') {
    if (!v.source) return fail('a bind mount needs a source path', 'source');
    return { kind: 'bind', source: v.source, target: v.target, readOnly: v.read_only ?? false, createHostPath: v.bind?.create_host_path ?? false };
  }
  return { kind: 'volume', source: v.source || undefined, target: v.target, readOnly: v.read_only ?? false };
});

export const volumeItem = byKind<VolumeSpec>('a volume like "data:/var/lib/data" or a mapping with type', {
  scalar: (v) => {
    if (typeof v !== 'string') throw new SpecError();
    return parseVolumeSpec(v);
  },
  object: longVolume,
});
