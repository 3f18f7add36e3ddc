/**
 * The in-process scenarios of the fault suite (issue 5, item 5). Each one runs the whole local
 * pipeline against the built-in sandbox with one kind of fault, then the common audit (one outcome
 * per row, results and sandbox agree, no second gift, nothing lost) and its own checks.
 */
import { type InProcessScenario, type Observed, posts, statusLine, until } from './in-process.ts';

/** Faults after which nobody can know whether the gift exists: each must leave its row unknown. */
const AMBIGUOUS = new Set(['500-created', '500-not-created', '502', '504', 'drop-after-create']);

function ambiguousPosts(observed: Observed): number {
  return posts(observed.journal).filter(
    (request) => request.fault !== undefined && AMBIGUOUS.has(request.fault),
  ).length;
}

/** Every row the file means to send was POSTed exactly once (no throttling in the scenario). */
function eachRowPostedOnce(observed: Observed): string[] {
  const count = posts(observed.journal).length;
  return count === observed.sendable
    ? []
    : [`${count} POSTs for ${observed.sendable} rows to send: a row was sent twice or not at all`];
}

/** Nothing ambiguous happened, so every valid row must be created. */
function allCreated(observed: Observed): string[] {
  const { created, unknown } = observed.tally;
  return created === observed.valid && unknown === 0
    ? []
    : [
        `${created} created and ${unknown} unknown of ${observed.valid} valid rows: all should be created`,
      ];
}

/** A rate-based fault proves something only when it hit several rows, not one or none. */
const SEVERAL = 3;

function hitSeveral(hits: number, fault: string): string[] {
  return hits >= SEVERAL
    ? []
    : [
        `only ${hits} POST(s) got a ${fault}, fewer than ${SEVERAL}: the scenario proved too little`,
      ];
}

function faultNote(observed: Observed): string[] {
  const { byFault, giftsCreated, giftsCreatedUnacknowledged } = observed.journal.summary();
  const faults = Object.entries(byFault)
    .map(([fault, count]) => `${fault}×${count}`)
    .join(' ');
  return [
    `sandbox: ${statusLine(observed.journal)}; faults ${faults || 'none'}; ${giftsCreated} gifts (${giftsCreatedUnacknowledged} unacknowledged)`,
  ];
}

export const IN_PROCESS_SCENARIOS: InProcessScenario[] = [
  {
    name: 'sqs-twice',
    summary: 'every SQS message delivered twice (the duplicates race the originals)',
    rows: 120,
    deliver: async ({ pipeline, event, batchId, rows }) => {
      const messages = Array.from({ length: rows }, (_, index) => ({ batchId, row: index + 1 }));
      await pipeline.sendQueue.enqueue(messages);
      await pipeline.split(event);
    },
    check: (observed) => [...eachRowPostedOnce(observed), ...allCreated(observed)],
    notes: faultNote,
  },
  {
    name: 's3-twice',
    summary: 'every S3 event fired twice at once, then once more',
    rows: 120,
    deliver: async ({ pipeline, event }) => {
      await Promise.all([pipeline.split(event), pipeline.split(event)]);
      await pipeline.split(event);
    },
    check: (observed) => [...eachRowPostedOnce(observed), ...allCreated(observed)],
    notes: faultNote,
  },
  {
    name: 'drop-after-create',
    summary: '3 % of POSTs create the gift, then the connection drops',
    // 115 POSTs: the seeded sandbox's rolls (one per POST, a stream of their own) hit 6 of them.
    rows: 120,
    sandbox: { faultRates: { 'drop-after-create': 0.03 } },
    check: (observed) => {
      const ambiguous = ambiguousPosts(observed);
      return [
        ...eachRowPostedOnce(observed),
        ...hitSeveral(ambiguous, 'dropped connection'),
        ...(observed.tally.unknown === ambiguous
          ? []
          : [`${ambiguous} dropped answers but ${observed.tally.unknown} unknown rows`]),
      ];
    },
    notes: faultNote,
  },
  {
    name: '500s',
    summary: '3 % of POSTs answered 500, half after creating the gift',
    rows: 120,
    sandbox: { faultRates: { '500-created': 0.015, '500-not-created': 0.015 } },
    check: (observed) => {
      const ambiguous = ambiguousPosts(observed);
      return [
        ...eachRowPostedOnce(observed),
        ...hitSeveral(ambiguous, 'answer of 500'),
        ...(observed.tally.unknown === ambiguous
          ? []
          : [`${ambiguous} answers of 500 but ${observed.tally.unknown} unknown rows`]),
      ];
    },
    notes: faultNote,
  },
  {
    name: '429-storm',
    summary: 'a limit of 30 requests/s, and 10 requests in a row refused 429 once 40 gifts exist',
    rows: 120,
    // The URL comes with the answer: the poller's GETs would only slow the storm down.
    sandbox: { rateLimit: { rps: 30, burst: 10 }, redemptionUrlDelayMs: 0 },
    during: async ({ sandbox }) => {
      await until(() => sandbox.journal.gifts.length >= 40, '40 gifts');
      sandbox.injectNext('429', 10, 'any');
    },
    check: (observed) => [
      ...allCreated(observed),
      ...((observed.journal.summary().byStatus['429'] ?? 0) < 10
        ? ['fewer than 10 answers were 429: the storm missed the batch']
        : []),
    ],
    notes: (observed) => [
      ...faultNote(observed),
      `requests before a Retry-After had passed: ${observed.journal.summary().earlyRequests}`,
    ],
  },
  {
    name: '503-window',
    summary: 'a 4 s maintenance window (503 + Retry-After) once 60 gifts exist',
    rows: 120,
    during: async ({ sandbox }) => {
      await until(() => sandbox.journal.gifts.length >= 60, '60 gifts');
      sandbox.configure({
        maintenance: [{ startMs: Date.now(), durationMs: 4_000, absolute: true }],
      });
    },
    check: (observed) => [
      ...allCreated(observed),
      ...((observed.journal.summary().byStatus['503'] ?? 0) === 0
        ? ['nothing was answered 503: the window missed the batch']
        : []),
    ],
    notes: faultNote,
  },
  {
    name: 'sender-timeout',
    summary:
      "the sender's function timeout (3 s) strikes mid-request: answers take 3.5-4.5 s until 2 invocations timed out",
    rows: 120,
    // Lambda ends a timed-out invocation: the local runtime refuses its AWS calls from then on, so
    // the rows it held stay `sending` until their messages come back (visibility: 6 × 3 s). A
    // function timeout shorter than the stack's 60 s only shortens that wait; &Open's client
    // timeout (10 s) stays longer than the answers, so it is the function's timeout that strikes.
    sandbox: { latencyMs: { min: 3_500, max: 4_500 } },
    pipeline: { senderTimeoutSeconds: 3 },
    // Counters of a timed-out invocation are never flushed: completion rechecks rows sooner.
    environment: { RECHECK_QUIET_BATCH_AFTER_MS: '3000' },
    during: async ({ sandbox, timedOutInvocations }) => {
      await until(() => timedOutInvocations() >= 2, '2 timed-out invocations', 120_000);
      sandbox.configure({ latencyMs: { min: 0, max: 50 } });
    },
    check: (observed) => [
      ...(observed.tally.unknown === 0
        ? ['no row ended unknown: no invocation timed out mid-request']
        : []),
      // A row claimed just before the timeout may never have been POSTed: it is unknown all the same.
      ...(posts(observed.journal).length <= observed.sendable
        ? []
        : [
            `${posts(observed.journal).length} POSTs for ${observed.sendable} rows: a row was sent twice`,
          ]),
    ],
    notes: faultNote,
  },
];
