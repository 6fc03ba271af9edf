// package.json against the server's own settings table (ghostls.config), through the server's
// Python: keys, types, defaults, enums and numeric bounds must be the same on both sides.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { Manifest, ManifestProperty, serverSettingKeys, TRUST_REQUIRED } from '../../src/core/settingsMap';

// Compiled to out/test/unit/, so the extension folder is three levels up.
const extensionDir = path.resolve(__dirname, '..', '..', '..');
const manifestPath = path.join(extensionDir, 'package.json');
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Manifest & {
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
  contributes: { commands: { command: string; title: string }[] };
};
const properties = manifest.contributes?.configuration?.properties ?? {};

interface Truth {
  table: { key: string; type: string; default: unknown }[];
  enums: Record<string, string[]>;
  edges: Record<string, Record<string, boolean>>;
}

function serverTruth(): Truth {
  const python = process.env.GHOSTLS_PYTHON ?? path.resolve(extensionDir, '..', '.venv', 'bin', 'python');
  assert.ok(
    fs.existsSync(python),
    `${python} is missing: the manifest check needs the server's Python (run "make install" at the repository root, or set GHOSTLS_PYTHON)`,
  );
  const out = execFileSync(python, [path.join(extensionDir, 'test', 'settings_truth.py'), manifestPath], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as Truth;
}

const truth = serverTruth();

test('package.json contributes exactly the server settings', () => {
  assert.deepEqual([...serverSettingKeys(manifest)].sort(), truth.table.map((r) => r.key).sort());
});

test('types and defaults match the server', () => {
  for (const row of truth.table) {
    const prop: ManifestProperty = properties[`ghostls.${row.key}`];
    assert.equal(prop.type, row.type, `type of ghostls.${row.key}`);
    assert.deepEqual(prop.default, row.default, `default of ghostls.${row.key}`);
    assert.ok((prop.markdownDescription ?? prop.description ?? '').length > 10, `description of ghostls.${row.key}`);
  }
});

test('enums match the server', () => {
  for (const [key, values] of Object.entries(truth.enums)) {
    assert.deepEqual(properties[`ghostls.${key}`].enum, values, `enum of ghostls.${key}`);
  }
});

test('minimum, maximum and enum values are the edges the server accepts', () => {
  for (const [key, verdicts] of Object.entries(truth.edges)) {
    for (const [check, ok] of Object.entries(verdicts)) {
      assert.ok(ok, `ghostls.${key}: ${check} (server's parse_settings disagrees with package.json)`);
    }
  }
});

test('the settings restricted in untrusted workspaces are the ones the extension filters', () => {
  const restricted = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
  assert.deepEqual([...restricted].sort(), [...TRUST_REQUIRED].map((k) => `ghostls.${k}`).sort());
});

test('every command has a "ghostls" category and is not a server command name', () => {
  for (const command of manifest.contributes.commands) {
    assert.match(command.command, /^ghostls\.client\./, command.command);
  }
});
