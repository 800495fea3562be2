/** The agent's engine: the read side over plain HTTP (docker-read.ts), everything else from the dockerode adapter, loaded only if used. */
import { createDockerEngine } from '../engine/docker.js';
import { createDockerReadEngine } from '../engine/docker-read.js';
import type { Engine } from '../engine/engine.js';

export function createAgentEngine(options: { socketPath?: string } = {}): Engine {
  return { ...createDockerEngine(options), ...createDockerReadEngine(options) };
}
