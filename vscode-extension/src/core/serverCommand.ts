// Which program runs the language server: the user's setting, else the workspace's .venv, else PATH.
// Pure (no vscode import) so the unit tests can run it with plain node.
import * as path from 'path';

export interface CommandInputs {
  /** ghostls.server.command after trust filtering: normally an array of strings, maybe junk. */
  configured: unknown;
  /** File-system paths of the workspace folders, first one first. */
  workspaceFolders: readonly string[];
  /** A workspace's .venv is the workspace's own code: only run it when the workspace is trusted. */
  trusted: boolean;
  envPath: string | undefined;
  platform: NodeJS.Platform;
  isExecutable: (file: string) => boolean;
}

export type CommandSource = 'setting' | 'workspace-venv' | 'path';

export type Resolution =
  | { ok: true; command: string; args: string[]; source: CommandSource }
  | { ok: false; message: string };

export const INSTALL_HELP =
  'Install ghostls (Python 3.10+) into a virtual environment, e.g. "python3 -m venv .venv" then ' +
  '".venv/bin/pip install ghostls" (or ".venv/bin/pip install -e PATH_TO_GHOSTLS_CHECKOUT", or ' +
  '"make install" in a ghostls checkout). ghostls is found in the workspace\'s .venv or on PATH; ' +
  'anywhere else, set "ghostls.server.command" to the program and its arguments, e.g. ' +
  '["/home/me/ghostls/.venv/bin/ghostls"], then run "ghostls: Restart Server".';

function executableNames(platform: NodeJS.Platform): string[] {
  return platform === 'win32' ? ['ghostls.exe', 'ghostls.cmd', 'ghostls'] : ['ghostls'];
}

function venvBin(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'Scripts' : 'bin';
}

function pathApi(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** The first directory on PATH holding one of `names`, or undefined. */
export function findOnPath(
  names: readonly string[],
  envPath: string | undefined,
  platform: NodeJS.Platform,
  isExecutable: (file: string) => boolean,
): string | undefined {
  const p = pathApi(platform);
  const separator = platform === 'win32' ? ';' : ':';
  for (const dir of (envPath ?? '').split(separator)) {
    if (!dir) {
      continue;
    }
    for (const name of names) {
      const candidate = p.join(dir, name);
      if (isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

function fromSetting(inputs: CommandInputs): Resolution | undefined {
  const { configured } = inputs;
  if (configured === undefined || configured === null || configured === '') {
    return undefined;
  }
  // A plain string is accepted as a program without arguments (a common slip in settings.json).
  const parts = typeof configured === 'string' ? [configured] : configured;
  if (!Array.isArray(parts)) {
    return {
      ok: false,
      message: `"ghostls.server.command" must be an array of strings (the program, then its arguments), got ${JSON.stringify(configured)}.`,
    };
  }
  if (parts.length === 0) {
    return undefined;
  }
  if (!parts.every((part) => typeof part === 'string') || parts[0] === '') {
    return {
      ok: false,
      message: `"ghostls.server.command" must be an array of strings with a program first, got ${JSON.stringify(configured)}.`,
    };
  }
  const [program, ...args] = parts as string[];
  const p = pathApi(inputs.platform);
  const hasDirectory = program.includes('/') || (inputs.platform === 'win32' && program.includes('\\'));
  if (!hasDirectory) {
    const found = findOnPath([program], inputs.envPath, inputs.platform, inputs.isExecutable);
    if (found === undefined) {
      return {
        ok: false,
        message: `"ghostls.server.command" names "${program}", which is not on PATH. ${INSTALL_HELP}`,
      };
    }
    return { ok: true, command: found, args, source: 'setting' };
  }
  // A relative program path is taken from the first workspace folder (".venv/bin/ghostls").
  const base = inputs.workspaceFolders[0];
  const command = p.isAbsolute(program) || base === undefined ? program : p.resolve(base, program);
  if (!inputs.isExecutable(command)) {
    return {
      ok: false,
      message: `"ghostls.server.command" names "${command}", which does not exist or is not executable. ${INSTALL_HELP}`,
    };
  }
  return { ok: true, command, args, source: 'setting' };
}

export function resolveServerCommand(inputs: CommandInputs): Resolution {
  const configured = fromSetting(inputs);
  if (configured !== undefined) {
    return configured;
  }
  const p = pathApi(inputs.platform);
  const names = executableNames(inputs.platform);
  if (inputs.trusted) {
    for (const folder of inputs.workspaceFolders) {
      for (const name of names) {
        const candidate = p.join(folder, '.venv', venvBin(inputs.platform), name);
        if (inputs.isExecutable(candidate)) {
          return { ok: true, command: candidate, args: [], source: 'workspace-venv' };
        }
      }
    }
  }
  const onPath = findOnPath(names, inputs.envPath, inputs.platform, inputs.isExecutable);
  if (onPath !== undefined) {
    return { ok: true, command: onPath, args: [], source: 'path' };
  }
  const skipped = inputs.trusted
    ? ''
    : ' (The workspace\'s .venv is not used because the workspace is not trusted.)';
  return {
    ok: false,
    message: `The ghostls language server was not found: no "ghostls.server.command" setting, no .venv/${venvBin(inputs.platform)}/ghostls in the workspace, and no ghostls on PATH.${skipped} ${INSTALL_HELP}`,
  };
}
