export * from './decider/index.js';
export * from './audit.js';
export { Detector } from './detector/detector.js';
export * from './replay/index.js';
