/**
 * The immutable record of what a deployment ran: service config, image ref and digest.
 * Secret-looking environment values are stored as a hash only; a rollback takes the value from
 * the current project and refuses when the key has disappeared.
 */
import { createHash } from 'node:crypto';
import { BerthError } from '../lib/errors.js';
import type { Service } from '../project/model.js';

const secretKey = /(PASS(WORD|WD)?|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)/i;
const redactedPrefix = 'berth-redacted:sha256:';

export interface DeploymentSnapshot {
  readonly service: Service;
  readonly imageRef: string;
  readonly imageId: string;
  readonly repoDigests: readonly string[];
  readonly configHash: string;
}

export function isSecretKey(key: string): boolean {
  return secretKey.test(key);
}

export function makeSnapshot(s: DeploymentSnapshot): DeploymentSnapshot {
  const environment = Object.fromEntries(
    Object.entries(s.service.environment).map(([k, v]) => [k, isSecretKey(k) ? redactedPrefix + sha256(v).slice(0, 16) : v]),
  );
  return { ...s, service: { ...s.service, environment } };
}

/** Put secret values back from the current service definition. */
export function restoreSecrets(snapshot: DeploymentSnapshot, current: Service | undefined): Service {
  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(snapshot.service.environment)) {
    if (!v.startsWith(redactedPrefix)) {
      environment[k] = v;
      continue;
    }
    const now = current?.environment[k];
    if (now === undefined) {
      throw new BerthError('STATE', `cannot roll back ${snapshot.service.name}: secret ${k} it ran with is no longer defined`, `define ${k} again in the environment or .env`);
    }
    environment[k] = now;
  }
  return { ...snapshot.service, environment };
}

function sha256(v: string): string {
  return createHash('sha256').update(v).digest('hex');
}
