// Turns VS Code's "ghostls.*" settings into the object the server reads from
// workspace/configuration (section "ghostls"). Pure, for unit tests without VS Code.

/** What WorkspaceConfiguration.inspect() reports for one key (the parts we use). */
export interface InspectedValue {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/**
 * Settings that run a program, load a file, or send code elsewhere: a workspace may set them
 * only when it is trusted (a cloned repository must not pick the model file or the server URL).
 */
export const TRUST_REQUIRED: ReadonlySet<string> = new Set([
  'server.command',
  'model.path',
  'backend.url',
  'backend.apiKeyEnv',
]);

/** Settings of the extension itself, not sent to the server. */
const CLIENT_ONLY_GROUPS = new Set(['server', 'trace']);

export interface ManifestProperty {
  type?: string | string[];
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  description?: string;
  markdownDescription?: string;
}

export interface Manifest {
  contributes?: { configuration?: { properties?: Record<string, ManifestProperty> } };
}

/** "model.path", ... : the keys of the server's settings contributed by package.json. */
export function serverSettingKeys(manifest: Manifest): string[] {
  const properties = manifest.contributes?.configuration?.properties ?? {};
  return Object.keys(properties)
    .filter((key) => key.startsWith('ghostls.'))
    .map((key) => key.slice('ghostls.'.length))
    .filter((key) => !CLIENT_ONLY_GROUPS.has(key.split('.')[0]));
}

/** The value in force for `key`; workspace values of trust-required keys count only if trusted. */
export function effectiveValue(key: string, inspected: InspectedValue | undefined, trusted: boolean): unknown {
  if (inspected === undefined) {
    return undefined;
  }
  const workspaceAllowed = trusted || !TRUST_REQUIRED.has(key);
  if (workspaceAllowed && inspected.workspaceFolderValue !== undefined) {
    return inspected.workspaceFolderValue;
  }
  if (workspaceAllowed && inspected.workspaceValue !== undefined) {
    return inspected.workspaceValue;
  }
  if (inspected.globalValue !== undefined) {
    return inspected.globalValue;
  }
  return inspected.defaultValue;
}

export type ServerSettings = Record<string, Record<string, unknown>>;

/** Nested settings ({"model": {"path": ...}}) for the server, from each key's inspect() result. */
export function buildServerSettings(
  keys: readonly string[],
  inspect: (key: string) => InspectedValue | undefined,
  trusted: boolean,
): ServerSettings {
  const result: ServerSettings = {};
  for (const key of keys) {
    const dot = key.indexOf('.');
    if (dot <= 0) {
      continue;
    }
    const value = effectiveValue(key, inspect(key), trusted);
    if (value === undefined) {
      continue;
    }
    const group = key.slice(0, dot);
    (result[group] ??= {})[key.slice(dot + 1)] = value;
  }
  return result;
}

/** Keys whose workspace value is being ignored because the workspace is untrusted. */
export function ignoredWorkspaceKeys(
  keys: readonly string[],
  inspect: (key: string) => InspectedValue | undefined,
  trusted: boolean,
): string[] {
  if (trusted) {
    return [];
  }
  return keys.filter((key) => {
    const inspected = inspect(key);
    return (
      TRUST_REQUIRED.has(key) &&
      inspected !== undefined &&
      (inspected.workspaceValue !== undefined || inspected.workspaceFolderValue !== undefined)
    );
  });
}
