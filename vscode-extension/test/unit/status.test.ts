import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeStatus, formatStats, parseStatus } from '../../src/core/status';

test('the server status notification is read as the TEAM contract describes', () => {
  const s = parseStatus({ state: 'ready', message: 'model loaded', model: 'gemma-3-270m', fim: false, backend: 'local' });
  assert.deepEqual(s, { state: 'ready', message: 'model loaded', model: 'gemma-3-270m', fim: false, backend: 'local', progress: undefined });
});

test('a malformed status becomes an error state with a reason', () => {
  assert.equal(parseStatus(null).state, 'error');
  const odd = parseStatus({ state: 'exploded' });
  assert.equal(odd.state, 'error');
  assert.match(odd.message ?? '', /exploded/);
});

test('each state reads differently in the status bar', () => {
  const texts = (['starting', 'loading', 'ready', 'error', 'disabled', 'not-found'] as const).map(
    (state) => describeStatus({ state }, undefined, true).text,
  );
  assert.equal(new Set(texts).size, texts.length);
  assert.match(describeStatus({ state: 'error' }, undefined, true).text, /error/);
  assert.equal(describeStatus({ state: 'error' }, undefined, true).severity, 'error');
});

test('loading shows progress when the server sends it', () => {
  assert.match(describeStatus({ state: 'loading', progress: 0.42 }, undefined, true).text, /loading model 42%/);
  assert.match(describeStatus({ state: 'loading', progress: 80 }, undefined, true).text, /80%/);
  assert.doesNotMatch(describeStatus({ state: 'loading' }, undefined, true).text, /%/);
  // Without a percentage, the time spent loading so far.
  assert.match(describeStatus({ state: 'loading' }, undefined, true, 7400).text, /loading model 7s$/);
  assert.match(describeStatus({ state: 'loading', progress: 0.5 }, undefined, true, 7400).text, /loading model 50%$/);
});

test('ready shows the last latency and whether completions are off', () => {
  const view = describeStatus({ state: 'ready', model: 'gemma', fim: false }, 312.4, false);
  assert.match(view.text, /ready 312 ms \(completions off\)/);
  assert.match(view.tooltip, /model: gemma \(no FIM\)/);
  assert.match(view.tooltip, /last suggestion: 312 ms/);
});

test('stats are summarised in a line or three', () => {
  const lines = formatStats(
    {
      completions_requested: 5,
      completions_shown: 4,
      completions_from_cache: 1,
      accepted: 2,
      rejected: 0,
      last_latency_ms: 250.2,
      engine: { state: 'ready', model: 'gemma', nested: { skipped: true } },
    },
    undefined,
  );
  assert.deepEqual(lines, [
    'suggestions requested 5, shown 4, from cache 1, accepted 2, rejected 0',
    'last suggestion latency 250 ms',
    'engine: state ready, model gemma',
  ]);
  assert.match(formatStats('nope', undefined)[0], /no stats/);
  // A fresh server reports latency 0: no latency line rather than "0 ms".
  assert.equal(formatStats({ last_latency_ms: 0 }, undefined).filter((l) => /latency/.test(l)).length, 0);
});
