import { type Html, html } from './html.ts';
import type { ReportData, SendBucket } from './report-data.ts';

type DrawnSend = Exclude<keyof SendBucket, 'start'>;

/**
 * Drawing order, bottom to top, and how each is filled (hatches tell them apart in greyscale).
 * `name` is the layer's `data-outcome`. Unknown rows found in flight are drawn when they were marked,
 * not when sent (that was never recorded): their own layer and legend say so.
 */
const LAYERS: readonly { outcome: DrawnSend; name: string; fill: string; label: string }[] = [
  { outcome: 'created', name: 'created', fill: '#1a7f37', label: 'created' },
  { outcome: 'rejected', name: 'rejected', fill: 'url(#fill-rejected)', label: 'rejected' },
  { outcome: 'unknown', name: 'unknown', fill: 'url(#fill-unknown)', label: 'unknown' },
  {
    outcome: 'foundInFlight',
    name: 'found-in-flight',
    fill: 'url(#fill-found-in-flight)',
    label: 'unknown, when found in flight',
  },
];

const WIDTH = 960;
const HEIGHT = 320;
const PLOT = { left: 64, right: WIDTH - 170, top: 20, bottom: HEIGHT - 78 };
const PLOT_WIDTH = PLOT.right - PLOT.left;
const PLOT_HEIGHT = PLOT.bottom - PLOT.top;
/** A rate line this far above everything else would flatten the bars: it is marked, not drawn. */
const OFF_SCALE_FACTOR = 3;

const round = (value: number): number => Math.round(value * 10) / 10;

/**
 * Decided sends per second in each time bucket, stacked by outcome, with the fleet's learned rate,
 * the configured ceiling and the latest pause drawn over them. Inline SVG: no script, no fonts.
 */
export function renderSendsChart(data: ReportData): Html {
  const { sends, rate } = data;
  const buckets = sends.buckets;
  const bucketSeconds = sends.bucketMs / 1_000;
  const perSecond = (bucket: SendBucket, outcome: DrawnSend): number =>
    bucket[outcome] / bucketSeconds;
  const totalPerSecond = (bucket: SendBucket): number =>
    LAYERS.reduce((sum, { outcome }) => sum + perSecond(bucket, outcome), 0);

  const highestBar = Math.max(0, ...buckets.map(totalPerSecond));
  const scaleFloor = Math.max(highestBar, rate.ceilingRps ?? 0);
  const learnedOffScale =
    rate.learnedRps !== null && scaleFloor > 0 && rate.learnedRps > OFF_SCALE_FACTOR * scaleFloor;
  const highest = Math.max(scaleFloor, learnedOffScale ? 0 : (rate.learnedRps ?? 0));
  const { step, top } = niceScale(highest);
  const y = (value: number): number => round(PLOT.bottom - (value / top) * PLOT_HEIGHT);

  const count = buckets.length;
  const chartStart = count ? Date.parse(buckets[0]?.start ?? '') : 0;
  const chartEnd = chartStart + count * sends.bucketMs;
  const slot = count ? PLOT_WIDTH / count : PLOT_WIDTH;
  const barWidth = slot > 4 ? slot * 0.8 : slot;
  const x = (instantMs: number): number =>
    round(PLOT.left + ((instantMs - chartStart) / (chartEnd - chartStart)) * PLOT_WIDTH);

  const bars = buckets.map((bucket, index) => {
    let base = 0;
    const left = round(PLOT.left + index * slot + (slot - barWidth) / 2);
    return html`<g data-bucket-start="${bucket.start}">${LAYERS.map(({ outcome, name, fill }) => {
      const value = perSecond(bucket, outcome);
      if (bucket[outcome] === 0) return '';
      const rect = html`<rect x="${left}" y="${y(base + value)}" width="${round(barWidth)}" height="${round(y(base) - y(base + value))}" fill="${fill}" data-outcome="${name}" data-count="${bucket[outcome]}"/>`;
      base += value;
      return rect;
    })}</g>`;
  });

  const gridLines = [];
  for (let value = 0; value <= top + step / 2; value += step) {
    gridLines.push(
      html`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y(value)}" y2="${y(value)}" stroke="#d1d9e0" stroke-width="1"/><text x="${PLOT.left - 8}" y="${y(value) + 4}" text-anchor="end">${formatRate(value)}</text>`,
    );
  }

  const rateLines = [];
  if (rate.ceilingRps !== null) {
    rateLines.push(
      horizontalLine(y(rate.ceilingRps), `ceiling ${formatRate(rate.ceilingRps)}/s`, {
        stroke: '#cf222e',
        dash: '8 5',
        figure: 'ceiling-line',
      }),
    );
  }
  if (rate.learnedRps !== null) {
    // Two labels at (nearly) one height — the fleet at its ceiling — would print over each other.
    const ceilingAt = rate.ceilingRps === null ? null : y(rate.ceilingRps);
    const learnedAt = y(rate.learnedRps);
    const labelShift = ceilingAt !== null && Math.abs(ceilingAt - learnedAt) < 14 ? 14 : 0;
    const atCeiling = rate.ceilingRps !== null && rate.learnedRps >= rate.ceilingRps;
    const name = rate.stillSearching ? 'fleet rate, rising' : atCeiling ? 'fleet rate' : 'learned';
    rateLines.push(
      learnedOffScale
        ? html`<text x="${PLOT.right + 8}" y="${PLOT.top + 4}" data-figure="learned-line" class="rate-label">▲ ${name} ${formatRate(rate.learnedRps)}/s (off scale)</text>`
        : horizontalLine(learnedAt, `${name} ${formatRate(rate.learnedRps)}/s`, {
            stroke: '#0550ae',
            dash: '2 3',
            figure: 'learned-line',
            labelShift,
          }),
    );
  }

  const pauses = count
    ? rate.pauses.flatMap((pause) => {
        const until = Date.parse(pause.until);
        const from = pause.from ? Date.parse(pause.from) : until;
        if (!(until >= chartStart && from <= chartEnd)) return [];
        const left = x(Math.max(from, chartStart));
        const right = x(Math.min(until, chartEnd));
        return [
          html`<g data-figure="pause"><rect x="${left}" y="${PLOT.top}" width="${Math.max(2, round(right - left))}" height="${PLOT_HEIGHT}" fill="#cf222e" fill-opacity="0.12" stroke="#cf222e" stroke-dasharray="3 3"/><text x="${round(right + 4)}" y="${PLOT.top + 12}" class="pause-label">paused</text></g>`,
        ];
      })
    : [];

  // The found-in-flight layer is named only when the chart has some: most batches have none.
  const drawn = LAYERS.filter(
    ({ outcome }) => outcome !== 'foundInFlight' || buckets.some((bucket) => bucket[outcome] > 0),
  );
  const legend = drawn.map(
    ({ fill, label }, index) =>
      html`<g transform="translate(${PLOT.left + index * 120}, ${HEIGHT - 22})"><rect width="14" height="14" y="-11" fill="${fill}" stroke="#1f2328" stroke-width="0.5"/><text x="20">${label}</text></g>`,
  );

  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="sends-title" data-figure="sends-chart" data-bucket-ms="${sends.bucketMs}" data-buckets="${count}">
<title id="sends-title">Decided sends per second over time, by outcome, with the fleet’s rate</title>
<defs>
<pattern id="fill-rejected" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#cf222e"/><rect width="2" height="6" fill="#ffffff"/></pattern>
<pattern id="fill-unknown" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#8250df"/><circle cx="3" cy="3" r="1.4" fill="#ffffff"/></pattern>
<pattern id="fill-found-in-flight" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#ffffff"/><circle cx="3" cy="3" r="1.6" fill="#8250df"/></pattern>
</defs>
<style>text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #59636e; } .rate-label { fill: #1f2328; font-weight: 600; } .pause-label { fill: #cf222e; }</style>
${gridLines}
${count ? bars : html`<text x="${PLOT.left + PLOT_WIDTH / 2}" y="${PLOT.top + PLOT_HEIGHT / 2}" text-anchor="middle">No row was sent</text>`}
${pauses}
${rateLines}
<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${PLOT.bottom}" y2="${PLOT.bottom}" stroke="#1f2328" stroke-width="1"/>
${timeLabels(chartStart, chartEnd, count, sends.bucketMs, x)}
<text x="${PLOT.left - 56}" y="${PLOT.top - 6}">per second</text>
${legend}
</svg>`;
}

function horizontalLine(
  at: number,
  label: string,
  style: { stroke: string; dash: string; figure: string; labelShift?: number },
): Html {
  return html`<g data-figure="${style.figure}"><line x1="${PLOT.left}" x2="${PLOT.right}" y1="${at}" y2="${at}" stroke="${style.stroke}" stroke-width="2" stroke-dasharray="${style.dash}"/><text x="${PLOT.right + 8}" y="${at + 4 + (style.labelShift ?? 0)}" class="rate-label">${label}</text></g>`;
}

/** About six labels under the axis, on bucket edges, in UTC. */
function timeLabels(
  start: number,
  end: number,
  count: number,
  bucketMs: number,
  x: (instantMs: number) => number,
): Html[] {
  if (count === 0) return [];
  const every = Math.max(1, Math.ceil(count / 6));
  const withSeconds = bucketMs < 60_000;
  const withDate =
    end - start >= 24 * 3_600_000 ||
    new Date(start).getUTCDate() !== new Date(end - 1).getUTCDate();
  const labels: Html[] = [];
  for (let index = 0; index <= count; index += every) {
    const at = start + index * bucketMs;
    labels.push(
      html`<line x1="${x(at)}" x2="${x(at)}" y1="${PLOT.bottom}" y2="${PLOT.bottom + 5}" stroke="#1f2328"/><text x="${x(at)}" y="${PLOT.bottom + 19}" text-anchor="middle">${clock(at, withSeconds, withDate)}</text>`,
    );
  }
  labels.push(
    html`<text x="${PLOT.right}" y="${PLOT.bottom + 36}" text-anchor="end">UTC${withDate ? '' : `, ${new Date(start).toISOString().slice(0, 10)}`}</text>`,
  );
  return labels;
}

function clock(instantMs: number, withSeconds: boolean, withDate: boolean): string {
  const iso = new Date(instantMs).toISOString();
  const time = iso.slice(11, withSeconds ? 19 : 16);
  return withDate ? `${iso.slice(5, 10)} ${time}` : time;
}

/** A tick step of 1, 2 or 5 × 10ⁿ giving at most five intervals, and the axis top it reaches. */
function niceScale(highest: number): { step: number; top: number } {
  if (!(highest > 0)) return { step: 1, top: 1 };
  const raw = (highest * 1.05) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((s) => s >= raw) ?? raw;
  return { step, top: step * Math.ceil((highest * 1.05) / step) };
}

/** `120`, `7.5`, `8` (not `7.99`: a rate is an estimate), `0.25`. */
function formatRate(value: number): string {
  if (value >= 100) return String(Math.round(value));
  if (value >= 1) return String(Number(value.toFixed(1)));
  return String(Number(value.toPrecision(2)));
}
