export { Lca, type LcaOptions } from './agent.js';
export { Outbox, type EventBody, type Stored, type Publisher } from './outbox.js';
export { Supervisor, STOP_GRACE_MS, type ManagedApp, type Run, type StartResult } from './supervisor.js';
export { HeartbeatLoop, type HeartbeatSource, type HeartbeatTiming } from './heartbeat.js';
export { CommandConsumer, CommandProcessor, consumerName, type Outcome } from './commands.js';
export { ConfigSource, type ConfigHandler } from './configSource.js';
export { StateDir, endLeftovers, readPidfile, writePidfile } from './pidfiles.js';
export { readStat, isAlive, type ProcStat } from './procfs.js';
export { pairOf, demoteReplacedPrimaries } from './primaries.js';
