// What the status bar item says, from the server's "ghostls/status" notification and the
// client's own observations. Pure so the wording is unit-tested.

export type ServerState = 'starting' | 'loading' | 'ready' | 'error' | 'disabled' | 'stopped' | 'not-found';

export interface ServerStatus {
  state: ServerState;
  message?: string;
  model?: string;
  fim?: boolean;
  backend?: string;
  /** Loading progress, 0..1 (or 0..100), when the server reports it. */
  progress?: number;
}

export interface StatusView {
  text: string;
  tooltip: string;
  severity: 'none' | 'warning' | 'error';
}

const KNOWN_STATES: ReadonlySet<string> = new Set(['loading', 'ready', 'error', 'disabled']);

/** Reads the notification's params defensively: an unknown shape is an error state, not a crash. */
export function parseStatus(params: unknown): ServerStatus {
  if (typeof params !== 'object' || params === null) {
    return { state: 'error', message: `unreadable status ${JSON.stringify(params)}` };
  }
  const p = params as Record<string, unknown>;
  const state = typeof p.state === 'string' && KNOWN_STATES.has(p.state) ? (p.state as ServerState) : 'error';
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    state,
    message: str(p.message) ?? (state === 'error' && p.state !== 'error' ? `unknown state ${JSON.stringify(p.state)}` : undefined),
    model: str(p.model),
    fim: typeof p.fim === 'boolean' ? p.fim : undefined,
    backend: str(p.backend),
    progress: typeof p.progress === 'number' && Number.isFinite(p.progress) ? p.progress : undefined,
  };
}

function percent(progress: number | undefined): string {
  if (progress === undefined) {
    return '';
  }
  const value = progress <= 1 ? progress * 100 : progress;
  return ` ${Math.max(0, Math.min(100, Math.round(value)))}%`;
}

function seconds(ms: number | undefined): string {
  return ms === undefined || ms < 1000 ? '' : ` ${Math.floor(ms / 1000)}s`;
}

export function describeStatus(
  status: ServerStatus,
  lastLatencyMs: number | undefined,
  completionsEnabled: boolean,
  /** How long the model has been loading, shown when the server sends no percentage. */
  loadingForMs?: number,
): StatusView {
  const details: string[] = [];
  if (status.message) {
    details.push(status.message);
  }
  if (status.model) {
    details.push(`model: ${status.model}${status.fim === undefined ? '' : status.fim ? ' (FIM)' : ' (no FIM)'}`);
  }
  if (status.backend) {
    details.push(`backend: ${status.backend}`);
  }
  if (lastLatencyMs !== undefined) {
    details.push(`last suggestion: ${Math.round(lastLatencyMs)} ms`);
  }
  if (!completionsEnabled) {
    details.push('completions are off');
  }
  details.push('Click for stats.');
  const tooltip = details.join('\n');
  const off = completionsEnabled ? '' : ' (completions off)';
  switch (status.state) {
    case 'starting':
      return { text: '$(sync~spin) ghostls: starting', tooltip, severity: 'none' };
    case 'loading':
      return {
        text: `$(sync~spin) ghostls: loading model${percent(status.progress) || seconds(loadingForMs)}`,
        tooltip,
        severity: 'none',
      };
    case 'ready': {
      const latency = lastLatencyMs === undefined ? '' : ` ${Math.round(lastLatencyMs)} ms`;
      return { text: `$(check) ghostls: ready${latency}${off}`, tooltip, severity: 'none' };
    }
    case 'disabled':
      return { text: `$(circle-slash) ghostls: disabled`, tooltip, severity: 'warning' };
    case 'stopped':
      return { text: `$(debug-stop) ghostls: stopped`, tooltip, severity: 'warning' };
    case 'not-found':
      return { text: `$(error) ghostls: server not found`, tooltip, severity: 'error' };
    case 'error':
    default:
      return { text: `$(error) ghostls: error`, tooltip, severity: 'error' };
  }
}

/** Human-readable lines for the "show stats" command, from the server's ghostls/stats reply. */
export function formatStats(stats: unknown, lastLatencyMs: number | undefined): string[] {
  const lines: string[] = [];
  if (typeof stats !== 'object' || stats === null) {
    return [`The server sent no stats (${JSON.stringify(stats)}).`];
  }
  const s = stats as Record<string, unknown>;
  const num = (key: string): string => (typeof s[key] === 'number' ? String(s[key]) : '?');
  lines.push(
    `suggestions requested ${num('completions_requested')}, shown ${num('completions_shown')}, ` +
      `from cache ${num('completions_from_cache')}, accepted ${num('accepted')}, rejected ${num('rejected')}`,
  );
  // 0 means the server has not answered with a suggestion yet.
  const serverLatency = typeof s.last_latency_ms === 'number' && s.last_latency_ms > 0 ? s.last_latency_ms : undefined;
  const latency = lastLatencyMs ?? serverLatency;
  if (latency !== undefined) {
    lines.push(`last suggestion latency ${Math.round(latency)} ms`);
  }
  const engine = s.engine;
  if (typeof engine === 'object' && engine !== null) {
    const parts = Object.entries(engine as Record<string, unknown>)
      .filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
      .map(([k, v]) => `${k} ${String(v)}`);
    if (parts.length > 0) {
      lines.push(`engine: ${parts.join(', ')}`);
    }
  }
  return lines;
}
