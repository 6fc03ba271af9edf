import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  buildServerSettings,
  effectiveValue,
  ignoredWorkspaceKeys,
  InspectedValue,
  serverSettingKeys,
} from '../../src/core/settingsMap';

test('server keys come from the manifest, without the client-only groups', () => {
  const keys = serverSettingKeys({
    contributes: {
      configuration: {
        properties: {
          'ghostls.server.command': {},
          'ghostls.trace.server': {},
          'ghostls.model.path': {},
          'ghostls.completion.enable': {},
          'other.thing': {},
        },
      },
    },
  });
  assert.deepEqual(keys, ['model.path', 'completion.enable']);
});

test('folder beats workspace beats user beats default', () => {
  assert.equal(effectiveValue('completion.maxTokens', { defaultValue: 64 }, true), 64);
  assert.equal(effectiveValue('completion.maxTokens', { defaultValue: 64, globalValue: 10 }, true), 10);
  assert.equal(effectiveValue('completion.maxTokens', { defaultValue: 64, globalValue: 10, workspaceValue: 20 }, true), 20);
  assert.equal(
    effectiveValue('completion.maxTokens', { defaultValue: 64, globalValue: 10, workspaceValue: 20, workspaceFolderValue: 30 }, true),
    30,
  );
});

test('an untrusted workspace cannot set the model file, the backend URL or the key variable', () => {
  const inspected: InspectedValue = { defaultValue: '', globalValue: '/models/mine.gguf', workspaceValue: '/tmp/evil.gguf' };
  assert.equal(effectiveValue('model.path', inspected, true), '/tmp/evil.gguf');
  assert.equal(effectiveValue('model.path', inspected, false), '/models/mine.gguf');
  assert.equal(effectiveValue('backend.url', { defaultValue: '', workspaceFolderValue: 'http://x' }, false), '');
  assert.equal(effectiveValue('backend.apiKeyEnv', { defaultValue: '', workspaceValue: 'AWS_SECRET' }, false), '');
  assert.deepEqual(effectiveValue('server.command', { defaultValue: [], workspaceValue: ['./evil'] }, false), []);
  // Harmless settings still follow the workspace.
  assert.equal(effectiveValue('completion.maxTokens', { defaultValue: 64, workspaceValue: 8 }, false), 8);
});

test('settings are nested by group for the server', () => {
  const values: Record<string, InspectedValue> = {
    'model.path': { defaultValue: '', workspaceValue: '/m.gguf' },
    'model.gpuLayers': { defaultValue: 0 },
    'completion.enable': { defaultValue: true, globalValue: false },
    'backend.url': { defaultValue: '', workspaceValue: 'http://box:8080' },
  };
  const keys = Object.keys(values);
  assert.deepEqual(buildServerSettings(keys, (k) => values[k], true), {
    model: { path: '/m.gguf', gpuLayers: 0 },
    completion: { enable: false },
    backend: { url: 'http://box:8080' },
  });
  assert.deepEqual(buildServerSettings(keys, (k) => values[k], false), {
    model: { path: '', gpuLayers: 0 },
    completion: { enable: false },
    backend: { url: '' },
  });
  assert.deepEqual(ignoredWorkspaceKeys(keys, (k) => values[k], false), ['model.path', 'backend.url']);
  assert.deepEqual(ignoredWorkspaceKeys(keys, (k) => values[k], true), []);
});

test('keys VS Code knows nothing about are left out rather than sent as undefined', () => {
  assert.deepEqual(buildServerSettings(['model.path', 'nogroup'], () => undefined, true), {});
});
