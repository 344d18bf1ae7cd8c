export * from './envelope.js';
export * from './subjects.js';
export * from './config.js';
export * from './lca.js';
export * from './scs.js';
export * from './input.js';
export * from './streams.js';
