/**
 * Files the local cloud keeps current while it runs (the metric store, the alarms and their
 * states), so a tool reading them sees the present and a crash or `kill -9` loses at most the last
 * moment. Where this stands: local runtime plumbing; `LocalCloud.start` (local/cloud.ts) attaches
 * one to the metric store and one to the alarm evaluator.
 *
 * Every write is atomic (a temporary file in the same folder, then a rename over the old one), so a
 * reader or a restart finds the previous content or the new one, never half of it. Writes are
 * coalesced: the first change after a write schedules the next one `delayMs` later, and every
 * change until then rides along, so a burst of data points (an endpoint under load puts five per
 * request) is one write, not one each. A write is never started while another runs, and the delay
 * grows with the last write's duration (at least ten times it), so a large file costs at most about
 * a tenth of the time.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes `content` to `file` atomically: to `<file>.<pid>.tmp` first, then renamed over `file`
 * (rename replaces within one file system in one step). The folder is created if need be.
 */
export async function writeFileAtomically(file: string, content: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, content);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** How a {@link LiveFile} writes. */
export interface LiveFileOptions {
  /** Real milliseconds from the first change to the write that takes it. @default 500 */
  readonly delayMs?: number;
  /** Told about a write that failed (the next change tries again). @default console.error */
  readonly onError?: (error: unknown) => void;
}

/**
 * A file rewritten, coalesced and atomically, after its content changes: call {@link changed} on
 * every change (cheap: a flag while a write is pending), {@link flush} to write what is pending
 * now, {@link close} at the end.
 */
export class LiveFile {
  private readonly delayMs: number;
  private readonly onError: (error: unknown) => void;
  private dirty = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private lastWriteMs = 0;

  /** `render` gives the whole content at the time of the write. */
  constructor(
    readonly file: string,
    private readonly render: () => string,
    options: LiveFileOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 500;
    this.onError =
      options.onError ?? ((error) => console.error(`[local-cloud] cannot write ${file}:`, error));
  }

  /** The content changed: a write is scheduled unless one already is. */
  changed(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.timer === undefined && this.writing === undefined) this.schedule();
  }

  /** Writes what is pending now (after a write under way); resolves when it is on disk or failed. */
  async flush(): Promise<void> {
    this.cancelTimer();
    while (this.writing !== undefined) await this.writing;
    // A write that just ended may have scheduled the next one: this flush writes it instead.
    this.cancelTimer();
    if (this.dirty) await this.startWrite();
  }

  /** Writes what is pending, then takes no more changes. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private schedule(): void {
    // A slow write (a large metric store) spaces the next one out: writing stays a small share of the time.
    const delay = Math.max(this.delayMs, 10 * this.lastWriteMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // During a write, its end schedules the next one.
      if (this.writing === undefined && this.dirty) void this.startWrite();
    }, delay);
    // A pending write does not keep the process alive; stop flushes it.
    this.timer.unref();
  }

  /** Starts a write; only called when none runs, so two never overlap on the temporary file. */
  private startWrite(): Promise<void> {
    this.dirty = false;
    const started = Date.now();
    let failed = false;
    const run = (async () => {
      try {
        await writeFileAtomically(this.file, this.render());
      } catch (error) {
        failed = true;
        this.dirty = true; // not on disk: the next change or flush writes it again
        this.onError(error);
      }
    })();
    this.writing = run.finally(() => {
      this.writing = undefined;
      this.lastWriteMs = Date.now() - started;
      // Changes made during the write are written next (a failed write waits for the next change).
      if (this.dirty && !failed && !this.closed && this.timer === undefined) this.schedule();
    });
    return this.writing;
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
