import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RestartPolicy } from '../../src/core/restartPolicy';

test('restarts up to the limit within the window, then stops', () => {
  const policy = new RestartPolicy(3, 60_000);
  assert.deepEqual([0, 1, 2, 3].map((t) => policy.shouldRestart(t * 1000)), [true, true, true, false]);
});

test('old crashes fall out of the window', () => {
  const policy = new RestartPolicy(2, 10_000);
  assert.equal(policy.shouldRestart(0), true);
  assert.equal(policy.shouldRestart(1_000), true);
  assert.equal(policy.shouldRestart(2_000), false);
  assert.equal(policy.shouldRestart(13_000), true);
});

test('a user restart resets the count', () => {
  const policy = new RestartPolicy(1, 60_000);
  assert.equal(policy.shouldRestart(0), true);
  assert.equal(policy.shouldRestart(1), false);
  policy.reset();
  assert.equal(policy.shouldRestart(2), true);
});
