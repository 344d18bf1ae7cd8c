export * from './ports.js';
export * from './processes.js';
export * from './natsServer.js';
export * from './redisServer.js';
export * from './cluster.js';
export * from './demoSpec.js';
export * from './golden.js';
export * from './proxy.js';
