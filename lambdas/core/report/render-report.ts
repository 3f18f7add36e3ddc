import type { Outcome } from '../results.ts';
import { Html, html } from './html.ts';
import type {
  CappedList,
  ErrorGroup,
  ErrorRow,
  MissingUrlRow,
  ReportData,
  UnknownRow,
} from './report-data.ts';
import { renderSendsChart } from './sends-chart.ts';

const OUTCOMES: readonly { outcome: Outcome; meaning: string }[] = [
  { outcome: 'created', meaning: 'the gift exists at &Open' },
  { outcome: 'rejected', meaning: '&Open said no: see the errors below' },
  { outcome: 'invalid', meaning: 'failed local validation: never sent' },
  {
    outcome: 'unknown',
    meaning: 'may or may not exist at &Open: check before sending again',
  },
];

const numberFormat = new Intl.NumberFormat('en-US');
const count = (value: number): string => numberFormat.format(value);

/**
 * The one-page report of a batch (or an export) as a self-contained HTML document: inline CSS and
 * SVG, no script, nothing fetched, so it opens from an e-mail attachment or a file share and prints
 * as it shows. Every value is escaped. Figures carry `data-figure` (and `data-value`, the number
 * unformatted) so tests and other tools can read them back.
 */
export function renderReportHtml(data: ReportData): string {
  const { header } = data;
  return `<!doctype html>
${
  html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${header.title} — gift-batch report</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<main>
${renderHeader(data)}
${renderOutcomes(data)}
${renderSends(data)}
${renderErrors(data.errors)}
${renderAttention(data)}
<footer>
<p>Made by gift-batch at ${instant(header.generatedAt)}. This page holds no redemption links (they are
bearer links to a gift); the results file <code>${header.resultsFile}</code> has every row, with its link.</p>
</footer>
</main>
</body>
</html>`.text
}
`;
}

function renderHeader(data: ReportData): Html {
  const { header } = data;
  const duration =
    header.startedAt && header.finishedAt
      ? formatDuration(Date.parse(header.finishedAt) - Date.parse(header.startedAt))
      : null;
  const stop = data.rate.stopReason;
  return html`<header>
<p class="kicker">gift-batch · results report</p>
<h1>${header.title}</h1>
<dl class="meta">
${meta('Batch', header.batchId, 'batch-id')}
${meta('Source file', header.source, 'source')}
${meta('Started', header.startedAt && instant(header.startedAt), 'started-at')}
${meta('Finished', header.finishedAt && instant(header.finishedAt), 'finished-at')}
${meta('Duration', duration, 'duration')}
${meta('Results file', header.resultsFile, 'results-file')}
</dl>
${stop ? html`<p class="banner stop" data-figure="stop-reason"><strong>Stopped:</strong> ${stop}</p>` : ''}
${header.notes.map((note) => html`<p class="banner note"><strong>Note:</strong> ${note}</p>`)}
</header>`;
}

function meta(label: string, value: string | null, figure: string): Html | string {
  if (!value) return '';
  return html`<div><dt>${label}</dt><dd data-figure="${figure}">${value}</dd></div>`;
}

function renderOutcomes(data: ReportData): Html {
  const { counts } = data;
  const created = counts.byOutcome.created;
  const statuses = Object.entries(counts.byStatus).sort(([, a], [, b]) => b - a);
  return html`<section id="outcomes">
<h2>Outcomes</h2>
<div class="cards">
<div class="card total"><span class="label">rows</span>${figure('rows', counts.rows)}</div>
${OUTCOMES.map(
  ({ outcome }) =>
    html`<div class="card ${outcome}"><span class="label">${outcome}</span>${figure(outcome, counts.byOutcome[outcome])}</div>`,
)}
</div>
<div class="columns">
<table class="outcomes">
<caption>Rows by outcome</caption>
<thead><tr><th scope="col">outcome</th><th scope="col" class="num">rows</th><th scope="col" class="num">share</th><th scope="col">meaning</th></tr></thead>
<tbody>
${OUTCOMES.map(
  ({ outcome, meaning }) =>
    html`<tr data-outcome="${outcome}"><td><span class="dot ${outcome}"></span>${outcome}</td><td class="num">${count(counts.byOutcome[outcome])}</td><td class="num">${share(counts.byOutcome[outcome], counts.rows)}</td><td>${meaning}</td></tr>`,
)}
</tbody>
<tfoot><tr><th scope="row">total</th><td class="num">${count(counts.rows)}</td><td class="num">${counts.rows ? '100%' : '—'}</td><td></td></tr></tfoot>
</table>
<table class="statuses">
<caption>Created gifts by &amp;Open status</caption>
<thead><tr><th scope="col">status</th><th scope="col" class="num">gifts</th></tr></thead>
<tbody>
${
  statuses.length
    ? statuses.map(
        ([status, gifts]) =>
          html`<tr><td>${status}</td><td class="num" data-figure="status" data-status="${status}" data-value="${gifts}">${count(gifts)}</td></tr>`,
      )
    : html`<tr><td colspan="2" class="empty">no gift was created</td></tr>`
}
</tbody>
<tfoot>
<tr><th scope="row">total created</th><td class="num">${count(created)}</td></tr>
<tr><th scope="row">with their redemption link</th><td class="num">${figure('with-redemption-url', counts.withRedemptionUrl, 'span')}</td></tr>
</tfoot>
</table>
</div>
</section>`;
}

function renderSends(data: ReportData): Html {
  const { sends, rate } = data;
  const sent = sends.buckets.reduce(
    (sum, bucket) => sum + bucket.created + bucket.rejected + bucket.unknown + bucket.foundInFlight,
    0,
  );
  const bucketLabel = formatDuration(sends.bucketMs);
  return html`<section id="sends">
<h2>Sends over time</h2>
<p class="lead">Rows decided per second, in buckets of ${bucketLabel}, against the fleet’s rate for
&amp;Open${rate.ceilingRps !== null ? ' and the configured ceiling' : ''}. The rate is shared with the
poller’s status checks, so sends alone stay below it.</p>
${renderSendsChart(data)}
<ul class="rate-facts">
<li>The fleet’s rate for &amp;Open when the results were written: ${
    rate.learnedRps === null
      ? 'not known'
      : html`<strong data-figure="learned-rps" data-value="${rate.learnedRps}">${perSecond(rate.learnedRps)}</strong>${rateNote(rate)}`
  }</li>
<li>Configured ceiling: ${
    rate.ceilingRps === null
      ? 'none (the fleet learns the limit)'
      : html`<strong data-figure="ceiling-rps" data-value="${rate.ceilingRps}">${perSecond(rate.ceilingRps)}</strong>`
  }</li>
${rate.pauses.map(
  (pause) =>
    html`<li class="pause">Paused${pause.from ? html` from ${instant(pause.from)}` : ''} until ${instant(pause.until)}: ${pause.reason}</li>`,
)}
${sends.foundInFlight ? html`<li>Unknown rows a later delivery found in flight (their sender stopped mid-request): <strong data-figure="found-in-flight" data-value="${sends.foundInFlight}">${count(sends.foundInFlight)}</strong>. When their requests went out was not recorded, so they are drawn hollow at the instant they were marked unknown, which is later.</li>` : ''}
${sends.undated ? html`<li>${count(sends.undated)} rows with an outcome have no instant to draw them at (still sending when the results were written, or decided before send instants were recorded) and are not drawn.</li>` : ''}
</ul>
<details>
<summary>The figures behind the chart (${count(sent)} sends)</summary>
<table class="buckets">
<thead><tr><th scope="col">from (UTC)</th><th scope="col" class="num">created</th><th scope="col" class="num">rejected</th><th scope="col" class="num">unknown</th>${sends.foundInFlight ? html`<th scope="col" class="num">unknown, when found in flight</th>` : ''}</tr></thead>
<tbody>
${sends.buckets.map(
  (bucket) =>
    html`<tr><td>${instant(bucket.start)}</td><td class="num">${bucket.created}</td><td class="num">${bucket.rejected}</td><td class="num">${bucket.unknown}</td>${sends.foundInFlight ? html`<td class="num">${bucket.foundInFlight}</td>` : ''}</tr>`,
)}
</tbody>
</table>
</details>
</section>`;
}

function renderErrors(errors: ErrorGroup[]): Html {
  return html`<section id="errors">
<h2>Errors by code</h2>
${
  errors.length === 0
    ? html`<p class="empty" data-figure="error-codes" data-value="0">No row was rejected or invalid.</p>`
    : html`<table class="errors" data-figure="error-codes" data-value="${errors.length}">
<thead><tr><th scope="col">type</th><th scope="col">code</th><th scope="col">field</th><th scope="col" class="num">rows</th><th scope="col">example message</th><th scope="col">rows, e.g.</th></tr></thead>
<tbody>
${errors.map(
  (error) =>
    html`<tr data-error-type="${error.type}" data-error-code="${error.code}" data-error-param="${error.param ?? ''}"><td>${error.type}</td><td><code>${error.code}</code></td><td>${error.param ? html`<code>${error.param}</code>` : '—'}</td><td class="num" data-figure="error-count" data-value="${error.count}">${count(error.count)}</td><td class="message">${error.exampleMessage}</td><td>${rowNumbers(error.rows, error.count)}</td></tr>`,
)}
</tbody>
</table>`
}
</section>`;
}

function renderAttention(data: ReportData): Html {
  const { unknown, missingUrl, rejected, invalid } = data.attention;
  const resultsFile = data.header.resultsFile;
  return html`<section id="attention">
<h2>Rows that need a person</h2>
${personList({
  id: 'unknown',
  title: 'Unknown: the gift may or may not exist',
  advice:
    'gift-batch never sends these again on its own. Check each with &Open (its Request-Id, or the recipient in the dashboard) before sending it again.',
  list: unknown,
  resultsFile,
  columns: ['reason', 'Request-Id'],
  cells: (row: UnknownRow) => [row.reason, code(row.requestId)],
})}
${personList({
  id: 'missing-url',
  title: 'Created, but the redemption link never arrived',
  advice:
    'The gift exists; &Open had not given its link when polling stopped. Look the gift up by its id.',
  list: missingUrl,
  resultsFile,
  columns: ['gift request', 'status', 'Request-Id'],
  cells: (row: MissingUrlRow) => [code(row.giftRequestId), row.status ?? '—', code(row.requestId)],
})}
${personList({
  id: 'rejected',
  title: 'Rejected by &Open',
  advice: 'Nothing was created. Fix the row (the message says what) and send it in a new file.',
  list: rejected,
  resultsFile,
  columns: ['error', 'message', 'Request-Id'],
  cells: (row: ErrorRow) => [code(row.codes), row.messages, code(row.requestId)],
})}
${personList({
  id: 'invalid',
  title: 'Invalid: never sent',
  advice: 'These rows failed the checks before sending. Fix them in the file and send them again.',
  list: invalid,
  resultsFile,
  columns: ['error', 'message'],
  cells: (row: ErrorRow) => [code(row.codes), row.messages],
})}
</section>`;
}

function personList<T extends UnknownRow | MissingUrlRow | ErrorRow>(options: {
  id: string;
  title: string;
  advice: string;
  list: CappedList<T>;
  resultsFile: string;
  columns: string[];
  cells: (row: T) => (Html | string)[];
}): Html {
  const { id, title, advice, list, resultsFile, columns, cells } = options;
  if (list.total === 0) {
    return html`<h3>${title}: <span data-figure="${`${id}-rows`}" data-value="0">none</span></h3>`;
  }
  const more = list.total - list.rows.length;
  return html`<h3>${title}: <span data-figure="${`${id}-rows`}" data-value="${list.total}">${count(list.total)}</span></h3>
<p class="advice">${advice}</p>
<table class="people" data-list="${id}">
<thead><tr><th scope="col" class="num">row</th><th scope="col">external id</th><th scope="col">name</th><th scope="col">email</th>${columns.map((column) => html`<th scope="col">${column}</th>`)}</tr></thead>
<tbody>
${list.rows.map(
  (row) =>
    html`<tr data-row="${row.row}"><td class="num">${row.row}</td><td>${row.externalId ?? '—'}</td><td>${row.name || '—'}</td><td>${row.email ?? '—'}</td>${cells(row).map((cell) => html`<td>${cell}</td>`)}</tr>`,
)}
</tbody>
</table>
${more > 0 ? html`<p class="more">…and ${count(more)} more — see <code>${resultsFile}</code>.</p>` : ''}`;
}

function figure(name: string, value: number, tag: 'strong' | 'span' = 'strong'): Html {
  return tag === 'strong'
    ? html`<strong data-figure="${name}" data-value="${value}">${count(value)}</strong>`
    : html`<span data-figure="${name}" data-value="${value}">${count(value)}</span>`;
}

function code(value: string | null): Html | string {
  return value ? html`<code>${value}</code>` : '—';
}

function rowNumbers(rows: number[], total: number): string {
  const listed = rows.join(', ');
  return rows.length < total ? `${listed}, …` : listed;
}

function share(part: number, whole: number): string {
  if (whole === 0) return '—';
  const percent = (100 * part) / whole;
  return `${percent > 0 && percent < 1 ? percent.toFixed(1) : Math.round(percent)}%`;
}

function rateNote(rate: ReportData['rate']): string {
  if (rate.stillSearching) {
    return ' — still rising: &Open has not throttled the fleet yet, so its limit is higher';
  }
  if (rate.ceilingRps !== null && rate.learnedRps !== null && rate.learnedRps >= rate.ceilingRps) {
    return ' — at the configured ceiling';
  }
  return ' — learned from &Open’s answers (429s)';
}

function perSecond(rps: number): string {
  return `${rps >= 10 ? Math.round(rps) : Number(rps.toFixed(1))} requests/s`;
}

/** `2026-11-22 10:00:05 UTC`: one zone for everyone who reads the page, named. */
export function instant(iso: string): string {
  const time = Date.parse(iso);
  if (!Number.isFinite(time)) return iso;
  return `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `350 ms`, `42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1_000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return joinUnits(minutes, 'min', seconds % 60, 's');
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return joinUnits(hours, 'h', minutes % 60, 'min');
  return joinUnits(Math.floor(hours / 24), 'd', hours % 24, 'h');
}

function joinUnits(big: number, bigUnit: string, small: number, smallUnit: string): string {
  return small ? `${big} ${bigUnit} ${small} ${smallUnit}` : `${big} ${bigUnit}`;
}

/** System fonts only (nothing to fetch), a small table style, colours that survive greyscale. */
const STYLE = `
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa;
  --created: #1a7f37; --rejected: #cf222e; --invalid: #9a6700; --unknown: #8250df; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 32px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 12px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 16px; margin: 24px 0 6px; }
.kicker { margin: 0; color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .06em; }
.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 8px 24px; margin: 0; }
.meta dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.banner { margin: 16px 0 0; padding: 10px 14px; border: 1px solid; border-left-width: 6px; border-radius: 4px; }
.banner.stop { border-color: var(--rejected); background: #ffebe9; }
.banner.note { border-color: var(--invalid); background: #fff8c5; }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; margin-bottom: 20px; }
.card { border: 1px solid var(--line); border-top: 5px solid var(--ink); border-radius: 6px; padding: 10px 14px; }
.card .label { display: block; color: var(--muted); font-size: 13px; }
.card strong { font-size: 28px; font-variant-numeric: tabular-nums; }
.card.created { border-top-color: var(--created); }
.card.rejected { border-top-color: var(--rejected); border-top-style: double; border-top-width: 6px; }
.card.invalid { border-top-color: var(--invalid); border-top-style: dashed; }
.card.unknown { border-top-color: var(--unknown); border-top-style: dotted; border-top-width: 6px; }
.columns { display: grid; grid-template-columns: 3fr 2fr; gap: 24px; align-items: start; }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
caption { text-align: left; font-weight: 600; padding-bottom: 6px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; border-bottom: 1px solid var(--ink); }
tfoot th, tfoot td { font-weight: 600; border-bottom: none; border-top: 1px solid var(--ink); }
tbody tr:nth-child(even) { background: var(--soft); }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 8px; background: var(--ink); }
.dot.created { background: var(--created); }
.dot.rejected { background: var(--rejected); }
.dot.invalid { background: var(--invalid); }
.dot.unknown { background: var(--unknown); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; overflow-wrap: anywhere; }
td.message { max-width: 320px; }
table.outcomes td:first-child, table.errors td:nth-child(-n+3) { white-space: nowrap; }
.lead, .advice { color: var(--muted); margin: 0 0 10px; }
.empty { color: var(--muted); font-style: italic; }
.more { color: var(--muted); }
.chart { width: 100%; height: auto; display: block; margin: 8px 0; }
.rate-facts { margin: 6px 0 10px; padding-left: 20px; }
.rate-facts .pause { color: var(--rejected); }
details { margin-top: 8px; }
summary { cursor: pointer; color: var(--muted); }
table.buckets { max-width: 560px; margin-top: 8px; }
footer { margin-top: 40px; padding-top: 12px; border-top: 1px solid var(--line); color: var(--muted); font-size: 13px; }
@media (max-width: 760px) { .cards { grid-template-columns: repeat(2, 1fr); } .columns { grid-template-columns: 1fr; } }
@media print {
  body { font-size: 12px; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  tr, .card, .chart { break-inside: avoid; }
  details > summary { display: none; }
}
`;
