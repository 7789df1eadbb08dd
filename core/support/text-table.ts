/**
 * Plain-text tables for terminals. Where this stands: core support (pure); the CLI and the local
 * demo print their tables with it.
 */

/** How {@link formatTable} lays out a table. */
export interface TextTableOptions {
  /** Column names: printed first and underlined with dashes. Without them, only the rows. */
  readonly header?: readonly string[];
  /** Text put before every line (e.g. two spaces to indent a list). @default '' */
  readonly indent?: string;
}

/**
 * Formats rows as left-aligned columns, two spaces apart, each as wide as its widest cell; a
 * missing cell is empty and trailing spaces are trimmed (so the last column is never padded).
 */
export function formatTable(rows: readonly (readonly string[])[], options: TextTableOptions = {}): string {
  const { header, indent = '' } = options;
  const all = header ? [header, ...rows] : rows;
  const columns = Math.max(0, ...all.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(0, ...all.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    (indent + widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join('  ')).trimEnd();
  const lines = rows.map(line);
  return (header ? [line(header), line(widths.map((w) => '-'.repeat(w))), ...lines] : lines).join('\n');
}
