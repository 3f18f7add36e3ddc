import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The pipeline's CloudWatch metrics, published as Embedded Metric Format log lines (no API call, no
 * extra latency). The stack's alarms and dashboard (lib/observability.ts) watch these exact names in
 * this namespace with the single default dimension `service`: publish them without extra dimensions
 * (a `batchId` dimension would make a new metric per batch that no alarm sees; put the batch id in
 * metadata or the log line instead).
 */
export const METRICS_NAMESPACE = 'GiftBatch';
export const METRICS_SERVICE = 'gift-batch';

export const METRIC = {
  /** Rows &Open answered 201 for. Unit Count. */
  RowsCreated: 'RowsCreated',
  /** Rows &Open refused (422 validation_error, 400 malformed_request). Unit Count. */
  RowsRejected: 'RowsRejected',
  /** Rows that failed local validation and were never sent. Unit Count. */
  RowsInvalid: 'RowsInvalid',
  /** Rows whose request may or may not have created a gift: a person must check. Alarmed. Unit Count. */
  RowsUnknown: 'RowsUnknown',
  /** Rows put back on the queue because &Open answered 429. Unit Count. */
  RowsThrottled: 'RowsThrottled',
  /** Seconds the fleet was told to wait (429/503 Retry-After). Unit Seconds. */
  PausedSeconds: 'PausedSeconds',
  /** Sending stopped because &Open refused the configuration (401/403/404, bad version). Alarmed. Unit Count. */
  ConfigurationStops: 'ConfigurationStops',
  /** Gift events recorded as new rows (valid or invalid). Unit Count. */
  EventsAccepted: 'EventsAccepted',
  /** Gift events whose key was already recorded with the same payload: nothing new. Unit Count. */
  EventsDuplicate: 'EventsDuplicate',
  /** A different payload under an idempotency key already used: rejected and reported. Alarmed. Unit Count. */
  EventKeyConflicts: 'EventKeyConflicts',
  /** Intake messages without a readable key: they go to the intake DLQ. Unit Count. */
  EventsUnreadable: 'EventsUnreadable',
  /** GETs of a gift we created that &Open answered 404 (not in this key's tenant). Alarmed. Unit Count. */
  GiftsNotFound: 'GiftsNotFound',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** The unit each metric is published with, so every publisher agrees. */
export const METRIC_UNIT: Readonly<
  Record<MetricName, (typeof MetricUnit)[keyof typeof MetricUnit]>
> = {
  RowsCreated: MetricUnit.Count,
  RowsRejected: MetricUnit.Count,
  RowsInvalid: MetricUnit.Count,
  RowsUnknown: MetricUnit.Count,
  RowsThrottled: MetricUnit.Count,
  PausedSeconds: MetricUnit.Seconds,
  ConfigurationStops: MetricUnit.Count,
  EventsAccepted: MetricUnit.Count,
  EventsDuplicate: MetricUnit.Count,
  EventKeyConflicts: MetricUnit.Count,
  EventsUnreadable: MetricUnit.Count,
  GiftsNotFound: MetricUnit.Count,
};

/**
 * One instance per container (module scope), like the SDK clients. Handlers add metrics with
 * `metrics.addMetric(METRIC.RowsCreated, METRIC_UNIT.RowsCreated, n)` and call
 * `metrics.publishStoredMetrics()` at the end of each invocation.
 */
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
