/**
 * A named lease: at most one holder at a time, until an instant. The poller takes one for each run,
 * so a schedule tick that comes while an earlier run is still going does nothing (two runs would
 * do the same work twice and spend &Open's GET budget twice).
 */
export interface RunLease {
  /**
   * Takes the lease for `holder` until `untilMs` when nobody holds it or its holder's time has
   * passed (a run that died keeps it no longer than it could have lived). False when another
   * holder has it.
   */
  acquire(name: string, holder: string, nowMs: number, untilMs: number): Promise<boolean>;
  /** Gives it back, only if `holder` still holds it. */
  release(name: string, holder: string): Promise<void>;
}
