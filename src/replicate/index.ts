/** Pull replication: what other areas (agent, monitor) use. */
export { replicateJobs, type ReplicateJob } from './jobs.js';
export { pullReplica, type PullResult } from './pull.js';
export { replicationStatus, type ReplicationState, type ReplicationStatus } from './status.js';
