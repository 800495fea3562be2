/** Everything a deploy operation needs, injected (STYLE.md habit 9). Built once by the CLI or agent. */
import type { AuditTrail } from '../audit/trail.js';
import type { Engine } from '../engine/engine.js';
import type { Reporter } from '../lib/reporter.js';
import type { Clock, Sleep } from '../lib/time.js';
import type { Project } from '../project/model.js';
import type { Edge } from '../proxy/edge.js';
import type { DeploymentStore } from '../store/deployments.js';
import type { StoppedStore } from '../store/stopped.js';
import type { DeployLock } from './lock.js';

export interface DeployContext {
  readonly project: Project;
  readonly engine: Engine;
  readonly edge: Edge;
  readonly deployments: DeploymentStore;
  /** Services stopped on purpose (`berth down`): the agent does not alert on them until they are started again. */
  readonly stopped: StoppedStore;
  readonly audit: AuditTrail;
  readonly lock: DeployLock;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly user: string;
  readonly report: Reporter;
}
