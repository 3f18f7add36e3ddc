/** A local stand-in for an AWS service, listening on 127.0.0.1 until `stop()` is called. */
export interface RunningStandIn {
  /** Base URL to give SDK clients, e.g. `http://127.0.0.1:41234`. */
  endpoint: string;
  /** Stops the stand-in and waits until it no longer listens. Safe to call more than once. */
  stop(): Promise<void>;
}
