// The ghostls VS Code extension: a thin LSP client. It finds and starts the server, hands it the
// settings, shows its state in the status bar, and reports accepted suggestions. Everything with
// logic worth testing lives in ./core (no vscode import there).
import * as fs from 'fs';
import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
} from 'vscode-languageclient/node';

import { AcceptParams, attachAcceptReport, REPORT_ACCEPTED_COMMAND } from './core/acceptance';
import { RestartPolicy } from './core/restartPolicy';
import { resolveServerCommand } from './core/serverCommand';
import { buildServerSettings, effectiveValue, ignoredWorkspaceKeys, Manifest, serverSettingKeys } from './core/settingsMap';
import { describeStatus, formatStats, parseStatus, ServerStatus } from './core/status';

const SECTION = 'ghostls';
const STATUS_NOTIFICATION = 'ghostls/status';
const DID_ACCEPT_NOTIFICATION = 'ghostls/didAccept';
const STATS_REQUEST = 'ghostls/stats';

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

class GhostlsClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private status: ServerStatus = { state: 'starting' };
  private lastLatencyMs: number | undefined;
  private loadingSince = 0;
  private loadingTimer: ReturnType<typeof setInterval> | undefined;
  private stopping = false;
  private readonly restartPolicy = new RestartPolicy();
  private readonly output: vscode.LogOutputChannel;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly serverKeys: string[];
  private readonly disposables: vscode.Disposable[] = [];
  // Serialises start/stop/restart so a settings change during a start cannot start two servers.
  private lifecycle: Promise<void> = Promise.resolve();

  constructor(context: vscode.ExtensionContext) {
    this.serverKeys = serverSettingKeys(context.extension.packageJSON as Manifest);
    this.output = vscode.window.createOutputChannel('ghostls', { log: true });
    this.statusItem = vscode.window.createStatusBarItem('ghostls.status', vscode.StatusBarAlignment.Right, 100);
    this.statusItem.name = 'ghostls';
    this.statusItem.command = 'ghostls.client.showStats';
    this.render();
    this.statusItem.show();
    this.disposables.push(
      this.output,
      this.statusItem,
      vscode.commands.registerCommand('ghostls.client.restartServer', () => this.restart(true)),
      vscode.commands.registerCommand('ghostls.client.toggleCompletions', () => this.toggleCompletions()),
      vscode.commands.registerCommand('ghostls.client.showStats', () => this.showStats()),
      vscode.commands.registerCommand('ghostls.client.showServerLog', () => this.output.show(true)),
      vscode.commands.registerCommand(REPORT_ACCEPTED_COMMAND, (params: AcceptParams) => this.reportAccepted(params)),
      vscode.workspace.onDidChangeConfiguration((event) => this.onConfigurationChanged(event)),
      // Trust unlocks the workspace's .venv and its restricted settings: start over with them.
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.restart(false)),
    );
  }

  start(): Promise<void> {
    return this.queue(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.queue(() => this.doStop());
  }

  restart(byUser: boolean): Promise<void> {
    if (byUser) {
      this.restartPolicy.reset();
    }
    return this.queue(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  dispose(): void {
    if (this.loadingTimer !== undefined) {
      clearInterval(this.loadingTimer);
    }
    void this.stop();
    for (const d of this.disposables) {
      d.dispose();
    }
  }

  private queue(step: () => Promise<void>): Promise<void> {
    this.lifecycle = this.lifecycle.then(step, step);
    return this.lifecycle;
  }

  private get trusted(): boolean {
    return vscode.workspace.isTrusted;
  }

  private folders(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  }

  private completionsEnabled(): boolean {
    return vscode.workspace.getConfiguration(SECTION).get<boolean>('completion.enable', true);
  }

  private setStatus(status: ServerStatus): void {
    const wasLoading = this.status.state === 'loading';
    this.status = status;
    if (status.state === 'loading' && !wasLoading) {
      this.loadingSince = Date.now();
      // Tick once a second so the user sees the load is still going.
      this.loadingTimer ??= setInterval(() => this.render(), 1000);
    } else if (status.state !== 'loading' && this.loadingTimer !== undefined) {
      clearInterval(this.loadingTimer);
      this.loadingTimer = undefined;
    }
    this.render();
  }

  private render(): void {
    const loadingFor = this.status.state === 'loading' ? Date.now() - this.loadingSince : undefined;
    const view = describeStatus(this.status, this.lastLatencyMs, this.completionsEnabled(), loadingFor);
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
    this.statusItem.backgroundColor =
      view.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  /** The settings object the server gets for section "ghostls". */
  private serverSettings(scopeUri?: string): object {
    const scope = scopeUri ? vscode.Uri.parse(scopeUri) : undefined;
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    const inspect = (key: string) => config.inspect(key);
    const ignored = ignoredWorkspaceKeys(this.serverKeys, inspect, this.trusted);
    if (ignored.length > 0) {
      this.output.appendLine(
        `workspace not trusted: ignoring the workspace's ${ignored.map((k) => `ghostls.${k}`).join(', ')}`,
      );
    }
    return buildServerSettings(this.serverKeys, inspect, this.trusted);
  }

  private async doStart(): Promise<void> {
    this.stopping = false;
    const config = vscode.workspace.getConfiguration(SECTION);
    const resolution = resolveServerCommand({
      configured: effectiveValue('server.command', config.inspect('server.command'), this.trusted),
      workspaceFolders: this.folders(),
      trusted: this.trusted,
      envPath: process.env.PATH,
      platform: process.platform,
      isExecutable: isExecutableFile,
    });
    if (!resolution.ok) {
      this.output.appendLine(resolution.message);
      this.output.appendLine(`ghostls.server.command: ${JSON.stringify(config.inspect('server.command'))}`);
      this.setStatus({ state: 'not-found', message: resolution.message });
      void vscode.window.showErrorMessage(`ghostls: ${resolution.message}`, 'Open Settings').then((choice) => {
        if (choice === 'Open Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'ghostls.server.command');
        }
      });
      return;
    }
    this.output.appendLine(`starting ${[resolution.command, ...resolution.args].join(' ')} (from ${resolution.source})`);
    const folders = this.folders();
    const serverOptions: ServerOptions = {
      command: resolution.command,
      args: resolution.args,
      // No `transport`: with TransportKind.stdio the client appends "--stdio", which ghostls
      // rejects; without it the client still talks over the child's stdin/stdout.
      options: folders.length > 0 ? { cwd: folders[0] } : undefined,
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: 'file', language: 'python' },
        { scheme: 'untitled', language: 'python' },
      ],
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      errorHandler: {
        error: (_error, _message, count) => ({ action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown }),
        closed: () => this.onServerClosed(),
      },
      middleware: {
        workspace: {
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (!Array.isArray(answer)) {
              return answer;
            }
            return params.items.map((item, i) =>
              item.section === SECTION ? this.serverSettings(item.scopeUri) : answer[i],
            );
          },
        },
        provideInlineCompletionItems: async (document, position, context, token, next) => {
          if (!this.completionsEnabled()) {
            return undefined;
          }
          const started = Date.now();
          const result = await next(document, position, context, token);
          const items = Array.isArray(result) ? result : result?.items;
          if (!items || items.length === 0 || token.isCancellationRequested) {
            return result;
          }
          this.lastLatencyMs = Date.now() - started;
          this.render();
          attachAcceptReport(items, document.uri.toString(), position);
          return result;
        },
      },
    };
    const client = new LanguageClient('ghostls', 'ghostls', serverOptions, clientOptions);
    this.client = client;
    this.setStatus({ state: 'starting' });
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => this.setStatus(parseStatus(params)));
    try {
      await client.start();
    } catch (error) {
      const message = `the server did not start: ${error instanceof Error ? error.message : String(error)}`;
      this.output.appendLine(message);
      this.setStatus({ state: 'error', message });
      void vscode.window.showErrorMessage(`ghostls: ${message}`, 'Show Log').then((choice) => {
        if (choice === 'Show Log') {
          this.output.show(true);
        }
      });
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) {
      return;
    }
    this.stopping = true;
    try {
      await client.dispose(3000);
    } catch (error) {
      this.output.appendLine(`stopping the server: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.setStatus({ state: 'stopped' });
  }

  private onServerClosed(): { action: CloseAction; handled: boolean } {
    if (this.stopping) {
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    if (this.restartPolicy.shouldRestart(Date.now())) {
      this.output.appendLine('the server exited unexpectedly; restarting it');
      this.setStatus({ state: 'starting', message: 'restarting after the server exited' });
      return { action: CloseAction.Restart, handled: true };
    }
    const message =
      `the server exited ${this.restartPolicy.limit + 1} times within ${this.restartPolicy.windowMs / 60000} minutes ` +
      'and was not restarted again. The log has the details; "ghostls: Restart Server" tries again.';
    this.output.appendLine(message);
    this.setStatus({ state: 'error', message });
    void vscode.window.showErrorMessage(`ghostls: ${message}`, 'Show Log', 'Restart Server').then((choice) => {
      if (choice === 'Show Log') {
        this.output.show(true);
      } else if (choice === 'Restart Server') {
        void this.restart(true);
      }
    });
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  private onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration(SECTION)) {
      return;
    }
    this.render();
    if (event.affectsConfiguration('ghostls.server.command')) {
      void this.restart(false);
      return;
    }
    // settings: null asks the server to pull section "ghostls" again (through our middleware).
    const client = this.client;
    if (client?.isRunning()) {
      void client
        .sendNotification(DidChangeConfigurationNotification.type, { settings: null })
        .catch((error: unknown) => this.output.appendLine(`didChangeConfiguration failed: ${String(error)}`));
    }
  }

  private async toggleCompletions(): Promise<void> {
    const config = vscode.workspace.getConfiguration(SECTION);
    const inspected = config.inspect<boolean>('completion.enable');
    const enabled = !this.completionsEnabled();
    // Change the value where it is set, so a workspace value does not keep overriding the toggle.
    const target =
      inspected?.workspaceFolderValue !== undefined || inspected?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
    await config.update('completion.enable', enabled, target);
    vscode.window.setStatusBarMessage(`ghostls: completions ${enabled ? 'on' : 'off'}`, 3000);
  }

  private async showStats(): Promise<void> {
    const client = this.client;
    if (!client?.isRunning()) {
      const view = describeStatus(this.status, this.lastLatencyMs, this.completionsEnabled());
      const choice = await vscode.window.showWarningMessage(
        `ghostls: the server is not running. ${view.tooltip.split('\n')[0]}`,
        'Show Log',
        'Restart Server',
      );
      if (choice === 'Show Log') {
        this.output.show(true);
      } else if (choice === 'Restart Server') {
        await this.restart(true);
      }
      return;
    }
    try {
      const stats = await client.sendRequest(STATS_REQUEST, {});
      const lines = formatStats(stats, this.lastLatencyMs);
      this.output.info(`stats: ${lines.join(' | ')}`);
      // The whole reply (recent requests, timings) at debug level: "Set Log Level" shows it.
      this.output.debug(`stats: ${JSON.stringify(stats)}`);
      const choice = await vscode.window.showInformationMessage(`ghostls stats: ${lines.join(' | ')}`, 'Show Log');
      if (choice === 'Show Log') {
        this.output.show(true);
      }
    } catch (error) {
      void vscode.window.showErrorMessage(`ghostls: could not get stats: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private reportAccepted(params: AcceptParams): void {
    const client = this.client;
    if (client?.isRunning()) {
      void client
        .sendNotification(DID_ACCEPT_NOTIFICATION, params)
        .catch((error: unknown) => this.output.appendLine(`didAccept failed: ${String(error)}`));
    }
  }
}

let instance: GhostlsClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  instance = new GhostlsClient(context);
  context.subscriptions.push(instance);
  await instance.start();
}

export async function deactivate(): Promise<void> {
  await instance?.stop();
  instance = undefined;
}
