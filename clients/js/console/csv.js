// csv.js: CSV in and out (RFC 4180: commas, double quotes, CRLF or LF), for imports and the
// exports operators open in a spreadsheet.

/**
 * Parses CSV text into rows of fields, each row with the line it started on (1-based). A
 * leading byte-order mark is dropped; blank lines are skipped.
 * @returns {{fields: string[], line: number}[]}
 */
export function parseRows(text) {
  const s = text.startsWith('\ufeff') ? text.slice(1) : text;
  const rows = [];
  let fields = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let i = 0;
  const endRow = () => {
    fields.push(field);
    if (fields.length > 1 || fields[0] !== '') rows.push({ fields, line: rowLine });
    fields = [];
    field = '';
  };
  while (i < s.length) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i += 1;
        } else {
          quoted = false;
        }
      } else {
        if (c === '\n') line += 1;
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i += 1;
      endRow();
      line += 1;
      rowLine = line;
    } else {
      field += c;
    }
    i += 1;
  }
  if (field !== '' || fields.length > 0) endRow();
  return rows;
}

/**
 * Parses CSV with a header row into objects keyed by the (trimmed, lower-cased) header names.
 * @returns {{header: string[], records: {values: Record<string, string>, line: number}[]}}
 */
export function parseRecords(text) {
  const rows = parseRows(text);
  if (rows.length === 0) return { header: [], records: [] };
  const header = rows[0].fields.map((f) => f.trim().toLowerCase());
  const records = rows.slice(1).map(({ fields, line }) => {
    const values = {};
    header.forEach((k, i) => {
      if (k) values[k] = (fields[i] ?? '').trim();
    });
    return { values, line };
  });
  return { header, records };
}

function quote(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * CSV text of `rows` (arrays of values), CRLF line ends, with a byte-order mark so that
 * spreadsheets read the Chinese text as UTF-8.
 */
export function toCsv(rows) {
  return `\ufeff${rows.map((r) => r.map(quote).join(',')).join('\r\n')}\r\n`;
}

/** Account ids in pasted text or a one-column file: split on commas, spaces and new lines. */
export function splitList(text) {
  const out = [];
  const seen = new Set();
  for (const part of text.split(/[\s,;，；]+/)) {
    const a = part.trim().replace(/^"|"$/g, '').toLowerCase();
    if (a && !seen.has(a)) {
      seen.add(a);
      out.push(a);
    }
  }
  return out;
}

/** The accids of a CSV file: the `accid` column when the header has one, else the first column. */
export function accidsOfCsv(text) {
  const rows = parseRows(text);
  if (rows.length === 0) return [];
  const header = rows[0].fields.map((f) => f.trim().toLowerCase());
  const col = header.indexOf('accid');
  const body = col >= 0 ? rows.slice(1) : rows;
  return splitList(body.map((r) => r.fields[Math.max(col, 0)] ?? '').join('\n'));
}
