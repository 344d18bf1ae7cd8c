/**
 * Loaded by vitest before every test file of the int, e2e and chaos projects: tells the harness when
 * a test has failed, so that the broker's streams are saved beside the processes' logs, and adds
 * where they are to the failure message (evidence.ts).
 */
import { TestRunner, afterEach } from 'vitest';
import { setEvidenceHooks } from './evidence.js';

let failed = 0;
const runningFailed = (): boolean => TestRunner.getCurrentTest()?.result?.state === 'fail';

setEvidenceHooks({
  // The running test counts as soon as it has failed (its afterEach hooks stop the brokers).
  failures: () => failed + (runningFailed() ? 1 : 0),
  report: (text) => {
    const error = TestRunner.getCurrentTest()?.result?.errors?.[0];
    if (error && runningFailed()) error.message = `${error.message}\n${text}`;
    else process.stderr.write(`${text}\n`);
  },
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed++;
});
