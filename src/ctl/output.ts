/**
 * What `warren ctl` prints. Tables are rabbitmqctl's: a header row of column
 * names, then one tab-separated row per item, so `cut -f` and `awk -F'\t'`
 * scripts written for rabbitmqctl keep working. JSON is an array of objects
 * keyed by the requested columns (rabbitmqctl --formatter json).
 */
export type Formatter = 'table' | 'json';

export interface Output {
  readonly formatter: Formatter;
  /** -q: no "Listing queues for vhost / ..." banners. */
  readonly quiet: boolean;
  /** --no-table-headers. */
  readonly tableHeaders: boolean;
  write(text: string): void;
}

/** The informational line rabbitmqctl prints before acting; never in JSON output (stdout stays parseable). */
export function banner(out: Output, text: string): void {
  if (!out.quiet && out.formatter === 'table') out.write(`${text}\n`);
}

export type Row = Record<string, unknown>;

export function printRows(out: Output, columns: readonly string[], rows: readonly Row[]): void {
  if (out.formatter === 'json') {
    out.write(`${JSON.stringify(rows, null, 1)}\n`);
    return;
  }
  const lines: string[] = [];
  if (out.tableHeaders) lines.push(columns.join('\t'));
  for (const row of rows) lines.push(columns.map((c) => cell(row[c])).join('\t'));
  if (lines.length > 0) out.write(`${lines.join('\n')}\n`);
}

/** Prints one object (status): JSON as is, or "key: value" lines. */
export function printRecord(out: Output, record: Row, lines: readonly string[]): void {
  if (out.formatter === 'json') out.write(`${JSON.stringify(record, null, 1)}\n`);
  else out.write(`${lines.join('\n')}\n`);
}

/** One table cell: lists of names as rabbitmqctl shows tags ("[administrator, monitoring]"), structures as JSON; tabs and line breaks escaped (\\t, \\n) so a row stays one line. */
export function cell(value: unknown): string {
  let text: string;
  if (value === undefined || value === null) text = '';
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) text = `[${value.join(', ')}]`;
  else text = JSON.stringify(value);
  return text.replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}
