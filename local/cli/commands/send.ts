import { readFile, stat } from 'node:fs/promises';
import { text as readStream } from 'node:stream/consumers';
import { Command, Option } from 'commander';
import { toEnvelope } from '../../../lambdas/adapters/jsonl-outcome-publisher.ts';
import { eventBatchIdOf } from '../../../lambdas/core/events/event-batch.ts';
import {
  type KeyedGiftEvent,
  payloadHash,
  readGiftEvent,
} from '../../../lambdas/core/events/gift-event.ts';
import { IDEMPOTENCY_CONFLICT_CODE } from '../../../lambdas/core/events/intake-service.ts';
import { outcomeEventOf } from '../../../lambdas/core/events/outcome-events.ts';
import type { GiftOutcomeDetail } from '../../../lambdas/ports/outcome-events.ts';
import type { LocalPipeline } from '../../runtime/local-pipeline.ts';
import {
  EXIT_COMPLETED,
  EXIT_STOPPED,
  EXIT_UNREADABLE,
  positiveInteger,
  positiveNumber,
  type RunOptions,
  type Say,
  withInterrupt,
  withLocalPipeline,
} from './run.ts';

/** Some events got no gift (rejected, invalid, unknown, or a reused key): see their outcome events. */
export const EXIT_NOT_CREATED = 4;

const FOLLOW_EVERY_MS = 250;

interface Output {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** One event of the input, read as the intake handler will read it. */
interface InputEvent {
  /** 1-based position in the input. */
  index: number;
  body: string;
  reading: ReturnType<typeof readGiftEvent>;
}

/** An event followed to its outcome: the outcome event (EventBridge's shape) and one line for people. */
interface Followed {
  envelope: Record<string, unknown>;
  detail: GiftOutcomeDetail;
  summary: string;
}

/**
 * `gift-batch send EVENT.json`: event-driven sends on this machine.
 *
 * 1. Read the events (one JSON object, a JSON array, or JSON Lines; `-` for stdin); an event without
 *    a readable idempotency key is reported at once and not sent (in AWS it would go to the DLQ).
 * 2. Start the local pipeline, and put the events on the local intake queue as a producer would; the
 *    intake handler takes them through its event source, as Lambda does.
 * 3. Follow each event's key in the ledger until its outcome is decided, then print its outcome event
 *    (JSON Lines on stdout, as published) and one line per event on stderr.
 */
export async function sendEvents(
  source: string,
  options: RunOptions,
  output: Output = { stdout: process.stdout, stderr: process.stderr },
  signal?: AbortSignal,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  const say: Say = (line) => output.stderr.write(`${line}\n`);
  let events: InputEvent[];
  try {
    events = parseEvents(source === '-' ? await readStream(stdin) : await readFile(source, 'utf8'));
  } catch (error) {
    say(`gift-batch send: ${source === '-' ? 'stdin' : source}: ${(error as Error).message}`);
    return EXIT_UNREADABLE;
  }
  const keyed = events.filter(
    (event): event is InputEvent & { reading: KeyedGiftEvent } => event.reading.kind === 'keyed',
  );
  for (const event of events) {
    if (event.reading.kind === 'unreadable') {
      say(`event ${event.index}: not sent: ${event.reading.reason}`);
    }
  }
  if (keyed.length === 0) {
    say('gift-batch send: no event to send');
    return EXIT_UNREADABLE;
  }

  return withLocalPipeline('send', options, output, signal, async (pipeline) => {
    const batchId = eventBatchIdOf(Date.now());
    const batch = await pipeline.ledger.getBatch(batchId);
    if (batch?.phase === 'stopped') {
      const queued = await pipeline.resumeStopped(batchId);
      say(`resuming today's events (${batchId}), stopped on: ${batch.stopReason ?? 'an error'}`);
      say(`${queued} events queued again; nothing already decided is sent twice`);
    }
    const outcomesFrom = await fileSize(pipeline.outcomeEventsFile);
    say(`sending ${keyed.length} event${keyed.length === 1 ? '' : 's'} through the intake queue…`);
    await pipeline.putIntakeMessages(keyed.map((event) => event.body));

    let notCreated = events.length - keyed.length;
    for (const event of keyed) {
      const followed = await follow(pipeline, event.reading, outcomesFrom, signal);
      if (followed === 'stopped') {
        const stopped = await pipeline.ledger.getBatch(batchId);
        say(`events STOPPED: ${stopped?.stopReason ?? 'no reason recorded'}`);
        say('No event was spent on this. Fix the cause (the API key, the URL), then send again.');
        return EXIT_STOPPED;
      }
      output.stdout.write(`${JSON.stringify(followed.envelope)}\n`);
      say(`event ${event.index}: ${followed.summary}`);
      if (followed.detail.outcome !== 'created') notCreated += 1;
    }
    return notCreated > 0 ? EXIT_NOT_CREATED : EXIT_COMPLETED;
  });
}

/** One JSON object (even pretty-printed), a JSON array of them, or JSON Lines. */
export function parseEvents(text: string): InputEvent[] {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') throw new Error('is empty: expected a gift event as JSON');
  let whole: unknown;
  try {
    whole = JSON.parse(trimmed);
  } catch {
    whole = undefined;
  }
  const bodies =
    whole === undefined
      ? trimmed.split(/\r?\n/).filter((line) => line.trim() !== '')
      : Array.isArray(whole)
        ? whole.map((item) => JSON.stringify(item))
        : [JSON.stringify(whole)];
  return bodies.map((body, index) => ({ index: index + 1, body, reading: readGiftEvent(body) }));
}

/** Waits until the event's outcome is decided; 'stopped' when sending stopped on a configuration error. */
async function follow(
  pipeline: LocalPipeline,
  event: KeyedGiftEvent,
  outcomesFrom: number,
  signal: AbortSignal | undefined,
): Promise<Followed | 'stopped'> {
  const hash = await payloadHash(event.payload);
  for (;;) {
    if (signal?.aborted) throw new Error('interrupted');
    const known = await pipeline.ledger.findIdempotencyKey(event.idempotencyKey);
    if (known && known.payloadHash !== hash) {
      const published = await publishedOutcome(
        pipeline.outcomeEventsFile,
        outcomesFrom,
        (detail) =>
          detail.idempotency_key === event.idempotencyKey &&
          detail.errors.some((error) => error.code === IDEMPOTENCY_CONFLICT_CODE),
      );
      if (published) {
        return {
          ...published,
          summary: `${event.idempotencyKey}: NOT SENT: the key was used before with a different payload (batch ${known.batchId}, row ${known.row}); use a new key for a new gift`,
        };
      }
    } else if (known) {
      const row = await pipeline.ledger.getRow(known.batchId, known.row);
      const outcome = row ? outcomeEventOf(row, new Date().toISOString()) : null;
      if (outcome) {
        const published = await publishedOutcome(
          pipeline.outcomeEventsFile,
          outcomesFrom,
          (detail) => detail.batch_id === known.batchId && detail.row === known.row,
        );
        const followed = published ?? { envelope: toEnvelope(outcome), detail: outcome.detail };
        return { ...followed, summary: summaryOf(followed.detail) };
      }
      const batch = await pipeline.ledger.getBatch(known.batchId);
      if (batch?.phase === 'stopped' && row?.state === 'pending') return 'stopped';
    }
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
  }
}

/** The newest outcome event this run published that matches, from the outcome events file. */
async function publishedOutcome(
  path: string,
  from: number,
  matches: (detail: GiftOutcomeDetail) => boolean,
): Promise<Omit<Followed, 'summary'> | null> {
  let text: string;
  try {
    text = (await readFile(path)).subarray(from).toString('utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  for (const line of lines.reverse()) {
    const envelope = JSON.parse(line) as { detail: GiftOutcomeDetail };
    if (matches(envelope.detail)) return { envelope, detail: envelope.detail };
  }
  return null;
}

function summaryOf(detail: GiftOutcomeDetail): string {
  const where = `(batch ${detail.batch_id}, row ${detail.row})`;
  const errors = detail.errors.map((error) => error.message).join('; ');
  switch (detail.outcome) {
    case 'created':
      return `${detail.idempotency_key}: created ${detail.gift_request_id} ${
        detail.redemption_url ? 'with its redemption link' : 'without a redemption link yet'
      } ${where}`;
    case 'rejected':
      return `${detail.idempotency_key}: rejected by &Open: ${errors} ${where}`;
    case 'invalid':
      return `${detail.idempotency_key}: invalid, not sent: ${errors} ${where}`;
    case 'unknown':
      return `${detail.idempotency_key}: UNKNOWN, may or may not exist at &Open (check before sending again): ${errors} ${where}`;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export function sendCommand(): Command {
  return new Command('send')
    .description(
      'Send gift events (the event contract, schemas/gift-event.v1.json) through the intake queue on this machine, and print their outcome events.',
    )
    .argument('<events>', 'a JSON file with one event, a JSON array, or JSON Lines; - for stdin')
    .option('--api-url <url>', '&Open base URL (default: the built-in sandbox)')
    .option('--api-key <key>', '&Open API key (default: $ANDOPEN_API_KEY; the sandbox needs none)')
    .addOption(
      new Option('--region <name>', 'a real &Open region instead of the sandbox').choices([
        'us',
        'eu',
        'staging',
      ]),
    )
    .option('--concurrency <n>', 'sender invocations at once (default 5)', positiveInteger)
    .option('--max-rps <r>', 'the most requests per second to send to &Open', positiveNumber)
    .option('--state-dir <dir>', 'where the local ledger lives (default ./.gift-batch)')
    .option('--fresh', 'forget every earlier batch and event in the local ledger first')
    .addHelpText(
      'after',
      `
Outcome events (GiftRequestCreated / GiftRequestFailed, as EventBridge delivers them) go to stdout
as JSON Lines, one per event; a line per event for people goes to stderr. The same
idempotency_key sent again creates no second gift and prints the same outcome.

Exit codes: 0 every event created its gift; 1 the run itself failed; 2 the input cannot be read
(or an event has no idempotency_key); 3 sending stopped on a configuration error (bad key,
wrong URL), nothing spent; 4 some events got no gift (rejected, invalid, unknown, reused key);
130 interrupted.

Example:
  gift-batch send examples/gift-event.json
  echo '{"version":1,"idempotency_key":"signup-42",…}' | gift-batch send -`,
    )
    .action(async (source: string, options: RunOptions) =>
      withInterrupt((signal) => sendEvents(source, options, undefined, signal)),
    );
}
