export * from './state.js';
export * from './effects.js';
export { transition, replay, type Transition } from './decide.js';
