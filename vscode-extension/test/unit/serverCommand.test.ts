import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CommandInputs, resolveServerCommand } from '../../src/core/serverCommand';

function inputs(overrides: Partial<CommandInputs>, existing: string[] = []): CommandInputs {
  const files = new Set(existing);
  return {
    configured: undefined,
    workspaceFolders: ['/home/me/proj'],
    trusted: true,
    envPath: '/usr/local/bin:/usr/bin',
    platform: 'linux',
    isExecutable: (f) => files.has(f),
    ...overrides,
  };
}

test('the setting wins over the .venv and PATH', () => {
  const r = resolveServerCommand(
    inputs({ configured: ['/opt/ghostls/bin/ghostls', '-v'] }, [
      '/opt/ghostls/bin/ghostls',
      '/home/me/proj/.venv/bin/ghostls',
      '/usr/bin/ghostls',
    ]),
  );
  assert.deepEqual(r, { ok: true, command: '/opt/ghostls/bin/ghostls', args: ['-v'], source: 'setting' });
});

test('a relative program in the setting is taken from the first workspace folder', () => {
  const r = resolveServerCommand(inputs({ configured: ['.venv/bin/ghostls'] }, ['/home/me/proj/.venv/bin/ghostls']));
  assert.deepEqual(r, { ok: true, command: '/home/me/proj/.venv/bin/ghostls', args: [], source: 'setting' });
});

test('a bare program name in the setting is looked up on PATH', () => {
  const r = resolveServerCommand(inputs({ configured: ['ghostls-dev', 'serve'] }, ['/usr/bin/ghostls-dev']));
  assert.deepEqual(r, { ok: true, command: '/usr/bin/ghostls-dev', args: ['serve'], source: 'setting' });
});

test('a string setting is accepted as a program without arguments', () => {
  const r = resolveServerCommand(inputs({ configured: '/x/ghostls' }, ['/x/ghostls']));
  assert.deepEqual(r, { ok: true, command: '/x/ghostls', args: [], source: 'setting' });
});

test('a setting naming a missing program is an error that says which one', () => {
  const r = resolveServerCommand(inputs({ configured: ['/nope/ghostls'] }, ['/usr/bin/ghostls']));
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /\/nope\/ghostls.*does not exist/);
});

test('a malformed setting is an error, not a crash', () => {
  for (const configured of [[1, 2], { program: 'x' }, ['']]) {
    const r = resolveServerCommand(inputs({ configured }, ['/usr/bin/ghostls']));
    assert.equal(r.ok, false, JSON.stringify(configured));
    assert.match(!r.ok ? r.message : '', /must be an array of strings/);
  }
});

test('an empty setting falls through to the workspace .venv', () => {
  const r = resolveServerCommand(
    inputs({ configured: [] }, ['/home/me/proj/.venv/bin/ghostls', '/usr/bin/ghostls']),
  );
  assert.deepEqual(r, { ok: true, command: '/home/me/proj/.venv/bin/ghostls', args: [], source: 'workspace-venv' });
});

test('the .venv of a later workspace folder is found too', () => {
  const r = resolveServerCommand(
    inputs({ workspaceFolders: ['/a', '/b'] }, ['/b/.venv/bin/ghostls', '/usr/bin/ghostls']),
  );
  assert.deepEqual(r, { ok: true, command: '/b/.venv/bin/ghostls', args: [], source: 'workspace-venv' });
});

test("an untrusted workspace's .venv is not run; PATH is used instead", () => {
  const r = resolveServerCommand(
    inputs({ trusted: false }, ['/home/me/proj/.venv/bin/ghostls', '/usr/bin/ghostls']),
  );
  assert.deepEqual(r, { ok: true, command: '/usr/bin/ghostls', args: [], source: 'path' });
});

test('PATH is searched in order', () => {
  const r = resolveServerCommand(inputs({}, ['/usr/local/bin/ghostls', '/usr/bin/ghostls']));
  assert.deepEqual(r, { ok: true, command: '/usr/local/bin/ghostls', args: [], source: 'path' });
});

test('nothing found: an explanation of how to install, without links', () => {
  const r = resolveServerCommand(inputs({ envPath: undefined }));
  assert.equal(r.ok, false);
  const message = !r.ok ? r.message : '';
  assert.match(message, /not found/);
  assert.match(message, /pip install/);
  assert.match(message, /ghostls\.server\.command/);
  assert.doesNotMatch(message, /https?:/);
});

test('nothing found in an untrusted workspace says the .venv was skipped', () => {
  const r = resolveServerCommand(inputs({ trusted: false }, ['/home/me/proj/.venv/bin/ghostls']));
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /not trusted/);
});

test('Windows: Scripts\\ghostls.exe in the .venv, ; separated PATH', () => {
  const r = resolveServerCommand(
    inputs({ platform: 'win32', workspaceFolders: ['C:\\proj'], envPath: 'C:\\bin;D:\\tools' }, [
      'C:\\proj\\.venv\\Scripts\\ghostls.exe',
    ]),
  );
  assert.deepEqual(r, { ok: true, command: 'C:\\proj\\.venv\\Scripts\\ghostls.exe', args: [], source: 'workspace-venv' });
  const onPath = resolveServerCommand(
    inputs({ platform: 'win32', workspaceFolders: [], envPath: 'C:\\bin;D:\\tools' }, ['D:\\tools\\ghostls.exe']),
  );
  assert.deepEqual(onPath, { ok: true, command: 'D:\\tools\\ghostls.exe', args: [], source: 'path' });
});
