/**
 * How commands print for people and for scripts: colour only on a terminal without NO_COLOR
 * (https://no-color.org), JSON with two-space indent, relative times. Where this stands: CLI
 * formatting.
 */
import type { CliIo } from '../command';

/** Colour functions; each is the identity when colour is off. */
export interface Palette {
  readonly red: (text: string) => string;
  readonly yellow: (text: string) => string;
  readonly green: (text: string) => string;
  readonly dim: (text: string) => string;
  readonly bold: (text: string) => string;
}

const plain = (text: string) => text;
const sgr = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;

/** Whether to colour stdout: a terminal, and NO_COLOR unset or empty. */
export function useColour(io: CliIo): boolean {
  const env = io.env ?? process.env;
  return io.tty === true && !env.NO_COLOR;
}

/** The palette for `io` ({@link useColour}). */
export function paletteFor(io: CliIo): Palette {
  if (!useColour(io)) return { red: plain, yellow: plain, green: plain, dim: plain, bold: plain };
  return { red: sgr(31, 39), yellow: sgr(33, 39), green: sgr(32, 39), dim: sgr(2, 22), bold: sgr(1, 22) };
}

/** Prints a JSON document (the `--json` output of every read command). */
export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** `3m ago`, `2h ago`, `5d ago` from an ISO time (or `-`). */
export function ago(iso: string | undefined, now: Date = new Date()): string {
  if (!iso) return '-';
  const seconds = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return '-';
  if (seconds < 0) return 'just now';
  return `${duration(seconds)} ago`;
}

/** `45s`, `12m`, `3h`, `2d` (or `1h05m` for a precise figure under a day). */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '-';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(Math.round(seconds % 60))}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${pad(Math.floor((seconds % 3600) / 60))}m`;
  return `${Math.floor(seconds / 86400)}d`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A metric value with up to 4 significant decimals (or `-`). */
export function metric(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/0+$/, '').replace(/\.$/, '');
}
