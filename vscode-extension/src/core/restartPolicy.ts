// Restart a crashed server, but not forever: at most `limit` restarts within `windowMs`.

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    readonly limit = 3,
    readonly windowMs = 3 * 60 * 1000,
  ) {}

  /** Record a crash at `now`; true if the server should be restarted. */
  shouldRestart(now: number): boolean {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    return this.crashes.length <= this.limit;
  }

  /** A restart asked for by the user starts the count afresh. */
  reset(): void {
    this.crashes = [];
  }
}
