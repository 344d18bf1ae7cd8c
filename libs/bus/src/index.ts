export * from './cli.js';
export * from './config.js';
export * from './log.js';
export * from './clock.js';
export * from './nats.js';
export * from './unique.js';
export * from './natsAuth.js';
export * from './redisAuth.js';
