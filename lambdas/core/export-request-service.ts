import type { Clock } from '../ports/clock.ts';
import type { Ledger } from '../ports/ledger.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import {
  type ExportQuery,
  ExportRequestError,
  ExportService,
  type ExportSummary,
  exportQueryOf,
  reportKeyOf,
  summaryKeyOf,
} from './export-service.ts';

/** Where finance drops requests, and where the exports (and refusals) appear. */
export const EXPORT_REQUESTS_PREFIX = 'exports/requests/';
export const EXPORTS_PREFIX = 'exports/';
export const EXPORT_REQUEST_SUFFIX = '.json';

/** A request object is a few fields: anything bigger is not one. */
const MAX_REQUEST_BYTES = 64 * 1024;
const REQUEST_FIELDS = ['campaign_id', 'from', 'to', 'status', 'format'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** The request object finance writes to `exports/requests/NAME.json`. */
export interface ExportRequestObject {
  campaign_id: string;
  from?: string;
  to?: string;
  /** Outcomes and/or gift statuses. */
  status?: string[] | string;
  format?: 'csv' | 'jsonl';
}

export type ExportRequestOutcome =
  | {
      kind: 'exported';
      name: string;
      exportKey: string;
      summaryKey: string;
      summary: ExportSummary;
    }
  | { kind: 'refused'; name: string; errorKey: string; problems: string[] }
  /** Not a request (another key under the prefix), or gone before it was read. */
  | { kind: 'ignored'; reason: string };

/** `exports/requests/NAME.json` → NAME, or null when the key is not a request's. */
export function exportRequestNameOf(key: string): string | null {
  if (!key.startsWith(EXPORT_REQUESTS_PREFIX) || !key.endsWith(EXPORT_REQUEST_SUFFIX)) return null;
  const name = key.slice(EXPORT_REQUESTS_PREFIX.length, -EXPORT_REQUEST_SUFFIX.length);
  return NAME.test(name) ? name : null;
}

/**
 * Answers an export request dropped in the results bucket, with the same export as the CLI's.
 *
 * Primary course:
 * 1. Read `exports/requests/NAME.json` and check it (the same rules as `gift-batch export`).
 * 2. Stream the export to `exports/NAME.csv` (or `.jsonl`), then its summary beside it.
 * A request that cannot be answered gets `exports/NAME.error.json` listing every problem: never a
 * silent nothing.
 */
export class ExportRequestService {
  readonly #ledger: Ledger;
  readonly #objects: ObjectStore;
  readonly #clock: Clock;

  constructor(deps: { ledger: Ledger; objects: ObjectStore; clock: Clock }) {
    this.#ledger = deps.ledger;
    this.#objects = deps.objects;
    this.#clock = deps.clock;
  }

  async handle(bucket: string, key: string): Promise<ExportRequestOutcome> {
    const name = exportRequestNameOf(key);
    if (name === null) {
      const base = key.slice(EXPORT_REQUESTS_PREFIX.length);
      if (!key.startsWith(EXPORT_REQUESTS_PREFIX) || base.includes('/'))
        return { kind: 'ignored', reason: `${key} is not an export request` };
      // A request in the right place with a name we cannot write back under: say so beside it.
      const fallback = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '') || 'request';
      return this.#refuse(bucket, fallback.replace(/\.json$/, ''), key, [
        `the request's name must be letters, digits, ".", "_" or "-", and end in .json (got "${base}")`,
      ]);
    }
    const object = await this.#objects.open(bucket, key);
    if (!object) return { kind: 'ignored', reason: `${key} was deleted before it could be read` };

    let query: ExportQuery;
    try {
      query = queryOfRequest(await readText(object.body));
    } catch (error) {
      if (error instanceof ExportRequestError)
        return this.#refuse(bucket, name, key, error.problems);
      throw error;
    }

    const exportKey = `${EXPORTS_PREFIX}${name}.${query.format}`;
    const summaryKey = summaryKeyOf(exportKey);
    const running = new ExportService({ ledger: this.#ledger, clock: this.#clock }).start(query);
    await this.#objects.write(bucket, exportKey, running.body, contentTypeOf(query.format));
    const summary = running.summary();
    await this.#objects.write(
      bucket,
      reportKeyOf(exportKey),
      running.reportHtml(exportKey.slice(EXPORTS_PREFIX.length)),
      'text/html; charset=utf-8',
    );
    await this.#objects.write(
      bucket,
      summaryKey,
      `${JSON.stringify({ request: key, export: exportKey, ...summary }, null, 2)}\n`,
      'application/json',
    );
    return { kind: 'exported', name, exportKey, summaryKey, summary };
  }

  async #refuse(
    bucket: string,
    name: string,
    key: string,
    problems: string[],
  ): Promise<ExportRequestOutcome> {
    const errorKey = `${EXPORTS_PREFIX}${name}.error.json`;
    const body = {
      request: key,
      problems,
      expected: {
        campaign_id: 'the campaign id (required)',
        from: '2026-11-01 or 2026-11-01T09:00:00Z (optional, UTC)',
        to: '2026-11-30 (whole day included) or a date-time (optional)',
        status: ['created', 'unknown', 'delivered', '… (optional)'],
        format: 'csv (default) or jsonl',
      },
      at: new Date(this.#clock.now()).toISOString(),
    };
    await this.#objects.write(
      bucket,
      errorKey,
      `${JSON.stringify(body, null, 2)}\n`,
      'application/json',
    );
    return { kind: 'refused', name, errorKey, problems };
  }
}

/** The request object's text as a query; every problem at once, unknown fields included. */
function queryOfRequest(text: string): ExportQuery {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new ExportRequestError([
      `the request is not JSON (${error instanceof Error ? error.message : String(error)})`,
    ]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ExportRequestError(['the request must be a JSON object: {"campaign_id": "…", …}']);
  }
  const unknown = Object.keys(parsed).filter(
    (field) => !(REQUEST_FIELDS as readonly string[]).includes(field),
  );
  const fields = parsed as Record<string, unknown>;
  const problems = unknown.map(
    (field) => `${field}: not a field of an export request (${REQUEST_FIELDS.join(', ')})`,
  );
  try {
    const query = exportQueryOf({
      campaignId: fields.campaign_id,
      from: fields.from,
      to: fields.to,
      status: fields.status,
      format: fields.format,
    });
    if (problems.length === 0) return query;
  } catch (error) {
    if (!(error instanceof ExportRequestError)) throw error;
    problems.push(...error.problems);
  }
  throw new ExportRequestError(problems);
}

async function readText(body: AsyncIterable<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let text = '';
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    if (bytes > MAX_REQUEST_BYTES) {
      throw new ExportRequestError([
        `the request is over ${MAX_REQUEST_BYTES / 1024} KiB: it should be a few fields`,
      ]);
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

function contentTypeOf(format: ExportQuery['format']): string {
  return format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
}
