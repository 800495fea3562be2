/** Labels berth puts on everything it creates, plus the Compose ones so `docker ps` stays readable. */
export type Color = 'blue' | 'green';

export const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue');

export const label = {
  project: 'berth.project',
  service: 'berth.service',
  color: 'berth.color',
  deployment: 'berth.deployment',
  configHash: 'berth.config-hash',
  role: 'berth.role',
  composeProject: 'com.docker.compose.project',
  composeService: 'com.docker.compose.service',
  composeOneoff: 'com.docker.compose.oneoff',
} as const;

export function containerName(project: string, service: string, color: Color): string {
  return `${project}-${service}-${color}`;
}

export function edgeContainerName(project: string): string {
  return `${project}-edge`;
}

export function isColor(v: string | undefined): v is Color {
  return v === 'blue' || v === 'green';
}
