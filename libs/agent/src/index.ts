export {
  Agent,
  NotManagedError,
  connectAgent,
  type AgentLog,
  type AgentOptions,
  type FenceHandler,
  type Precondition,
  type RoleHandler,
  type RoleInfo,
} from './agent.js';
export { RoleLease, type FenceChange, type MonoNs } from './lease.js';
export { askPeer, PEER_TIMEOUT_MS, type PeerResult } from './peer.js';
export type { Role, RoleAnswer } from '@ha/events';
