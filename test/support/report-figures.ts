/**
 * Reads the figures back out of a rendered report (ours, or the DOM Chromium dumps of it) through
 * their stable `data-*` attributes, the way another tool would.
 */

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};
const decode = (text: string): string =>
  text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity] ?? entity);

/** `data-figure` → `data-value` for every element that has both (the first of each name). */
export function reportFigures(page: string): Record<string, number> {
  const figures: Record<string, number> = {};
  for (const match of page.matchAll(/<[^>]*\sdata-figure="([^"]+)"[^>]*\sdata-value="([^"]*)"/g)) {
    const [, name, value] = match;
    if (name && value !== undefined && !(name in figures)) figures[name] = Number(value);
  }
  return figures;
}

/** Created gifts by status, as the status table shows them. */
export function reportStatuses(page: string): Record<string, number> {
  const statuses: Record<string, number> = {};
  for (const match of page.matchAll(
    /data-figure="status" data-status="([^"]*)" data-value="(\d+)"/g,
  )) {
    statuses[decode(match[1] ?? '')] = Number(match[2]);
  }
  return statuses;
}

/** Errors by `type|code|param` → rows, as the errors table shows them. */
export function reportErrors(page: string): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const match of page.matchAll(
    /<tr data-error-type="([^"]*)" data-error-code="([^"]*)" data-error-param="([^"]*)">.*?data-figure="error-count" data-value="(\d+)"/gs,
  )) {
    const [, type, code, param, count] = match;
    errors[[type, code, param].map((part) => decode(part ?? '')).join('|')] = Number(count);
  }
  return errors;
}

/** The row numbers a "needs a person" list names (`unknown`, `missing-url`, `rejected`, `invalid`). */
export function reportListedRows(page: string, list: string): number[] {
  const table = page.match(new RegExp(`<table[^>]*data-list="${list}"[^>]*>(.*?)</table>`, 's'));
  if (!table) return [];
  return [...(table[1] ?? '').matchAll(/<tr data-row="(\d+)"/g)].map((match) => Number(match[1]));
}

/** Sends drawn in the chart, by outcome and unknown rows found in flight (the bars' `data-count`). */
export function reportChartSends(page: string): Record<string, number> {
  const sends: Record<string, number> = {
    created: 0,
    rejected: 0,
    unknown: 0,
    'found-in-flight': 0,
  };
  for (const match of page.matchAll(
    /data-outcome="(created|rejected|unknown|found-in-flight)" data-count="(\d+)"/g,
  )) {
    const outcome = match[1] as string;
    sends[outcome] = (sends[outcome] ?? 0) + Number(match[2]);
  }
  return sends;
}

/**
 * Every way a page could make the browser fetch something: an http(s) URL in a src, href, srcset,
 * action or CSS url(), a script with a src, a stylesheet link, an @import. Empty when self-contained.
 */
export function networkReferences(page: string): string[] {
  const patterns = [
    /\s(?:src|href|srcset|action|poster|data|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\/[^"'\s>]*/gi,
    /url\(\s*["']?\s*(?:https?:)?\/\/[^)]*\)/gi,
    /<script\b[^>]*\ssrc\s*=/gi,
    /<link\b[^>]*rel\s*=\s*["']?stylesheet/gi,
    /@import\b/gi,
    /<(?:iframe|object|embed)\b/gi,
  ];
  return patterns.flatMap((pattern) => [...page.matchAll(pattern)].map((match) => match[0]));
}
