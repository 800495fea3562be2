/** One registration point for source types (STYLE.md habit 3). */
import type { SourceType } from '../../project/backup-schema.js';
import { configSource } from './config.js';
import { mariadbSource } from './mariadb.js';
import { postgresSource } from './postgres.js';
import { redisSource } from './redis.js';
import type { SourceDriver } from './types.js';
import { volumeSource } from './volume.js';

export const sourceDrivers = {
  mariadb: mariadbSource,
  mysql: mariadbSource,
  postgres: postgresSource,
  redis: redisSource,
  volume: volumeSource,
  config: configSource,
} satisfies Record<SourceType, SourceDriver>;

export type { DrillOutcome, Facts, SourceContext, SourceDriver } from './types.js';
