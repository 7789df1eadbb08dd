/**
 * The local cloud's dead letters (`<dir>/dead-letters.jsonl`, events a rule gave up on after its
 * retries) and its backlog (`<dir>/backlog.jsonl`, deliveries a stop left for the next start):
 * listing and redriving, for `mlops dlq` and the control API. Where this stands: local runtime;
 * the event bus (local/event-bus.ts) writes both files, this module reads and rewrites them.
 *
 * A redrive delivers each dead letter again to the rule that gave up on it (no other rule: they
 * had theirs), with its attempts starting over, as an SQS message move task does:
 * - in a running cloud, through its bus ({@link DeadLetterRoutes}, served by the control API);
 * - in a stopped one, by moving the lines to the backlog, which the next start delivers
 *   ({@link moveDeadLettersToBacklog}).
 * Either way the file is rewritten at once (a temporary file renamed over it) without the lines
 * redriven, and every other line is kept as it was, unreadable ones included.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CloudEvent } from './contracts';
import type { BacklogEntry, DeadLetter } from './event-bus';
import { parseBodyFields } from './json-body';

/** The dead-letter file's name in the local cloud's folder. */
export const DEAD_LETTER_FILE = 'dead-letters.jsonl';
/** The backlog file's name in the local cloud's folder (see {@link LocalEventBus.open}). */
export const BACKLOG_FILE = 'backlog.jsonl';
/** The control API route that redrives dead letters in a running cloud (POST, JSON filter). */
export const DEAD_LETTER_REDRIVE_ROUTE = '/dead-letters/redrive';

/** Which dead letters to take: all, or those of one rule and/or one event id. */
export interface DeadLetterFilter {
  readonly rule?: string;
  readonly id?: string;
}

/** A dead letter as `mlops dlq list` shows it. */
export interface DeadLetterSummary {
  readonly rule: string;
  readonly id: string;
  readonly detailType: string;
  /** What the event was about: the dataset key, training job, endpoint or alarm. */
  readonly subject: string;
  readonly error: string;
  readonly attempts: number;
  readonly at: string;
}

/** The dead letters in the file (oldest first), and how many lines could not be read. */
export function readDeadLetters(file: string): { letters: DeadLetter[]; unreadable: number } {
  const letters: DeadLetter[] = [];
  let unreadable = 0;
  for (const line of readLines(file)) {
    const letter = parseDeadLetter(line);
    if (letter) letters.push(letter);
    else unreadable++;
  }
  return { letters, unreadable };
}

/** The summary of one dead letter. */
export function summarize(letter: DeadLetter): DeadLetterSummary {
  return {
    rule: letter.rule,
    id: String(letter.event.id),
    detailType: String(letter.event['detail-type']),
    subject: subjectOf(letter.event),
    error: letter.error,
    attempts: letter.attempts,
    at: letter.at,
  };
}

/** One line per dead letter, for a terminal. */
export function formatDeadLetters(letters: readonly DeadLetter[], unreadable = 0): string {
  const lines = letters.map((letter) => {
    const s = summarize(letter);
    return `${s.at}  ${s.rule}  ${s.id}  ${s.detailType}  ${s.subject || '-'}  attempts ${s.attempts}  ${s.error}`;
  });
  if (lines.length === 0) lines.push('no dead letters');
  if (unreadable > 0) lines.push(`(${unreadable} line(s) could not be read; they are kept in the file)`);
  return lines.join('\n');
}

/** True when the dead letter is one the filter asks for. */
export function selects(filter: DeadLetterFilter, letter: DeadLetter): boolean {
  return (
    (filter.rule === undefined || letter.rule === filter.rule) &&
    (filter.id === undefined || letter.event.id === filter.id)
  );
}

/**
 * Takes the dead letters `select` accepts out of the file: `deliver` gets them first, then the
 * file is replaced (temporary file, rename) by the lines left. Synchronous from read to rename,
 * so that in the cloud's own process no dead letter the bus appends meanwhile is lost. Should
 * `deliver` throw, nothing is removed.
 */
export function takeDeadLetters(
  file: string,
  select: (letter: DeadLetter) => boolean,
  deliver: (taken: readonly DeadLetter[]) => void,
): { taken: DeadLetter[]; left: number } {
  const taken: DeadLetter[] = [];
  const kept: string[] = [];
  for (const line of readLines(file)) {
    const letter = parseDeadLetter(line);
    if (letter && select(letter)) taken.push(letter);
    else kept.push(line);
  }
  if (taken.length === 0) return { taken, left: kept.length };
  deliver(taken);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, kept.map((line) => `${line}\n`).join(''));
  renameSync(temporary, file);
  return { taken, left: kept.length };
}

/**
 * A redrive in a stopped cloud: the dead letters the filter selects move to the backlog (appended
 * first: a crash in between leaves a duplicate, which the idempotent handlers shrug off, rather
 * than a loss), for the next start to deliver with their attempts starting over.
 */
export function moveDeadLettersToBacklog(
  dir: string,
  filter: DeadLetterFilter,
): { moved: DeadLetterSummary[]; left: number } {
  const { taken, left } = takeDeadLetters(
    join(dir, DEAD_LETTER_FILE),
    (letter) => selects(filter, letter),
    (letters) => {
      const at = new Date().toISOString();
      const entries = letters.map((letter): BacklogEntry => ({
        rule: letter.rule,
        event: letter.event,
        attempts: 0,
        reason: `redriven from the dead letters (${letter.error})`,
        at,
      }));
      appendFileSync(join(dir, BACKLOG_FILE), entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
    },
  );
  return { moved: taken.map(summarize), left };
}

/** What a redrive needs of the running cloud's bus ({@link LocalEventBus}). */
export interface RedriveBus {
  hasRule(name: string): boolean;
  deliverTo(rule: string, event: CloudEvent, attempts?: number): boolean;
}

/** What a redrive answers: the letters redriven, those selected but left (their rule is gone), and what is left. */
export interface RedriveOutcome {
  readonly redriven: readonly DeadLetterSummary[];
  /** Selected, but no rule of that name exists in the running cloud: kept in the file. */
  readonly skipped: readonly DeadLetterSummary[];
  /** Lines left in the file. */
  readonly left: number;
}

/**
 * The control API's dead-letter route, served by the running cloud (the bus is in its process):
 * `POST /dead-letters/redrive` ({@link DEAD_LETTER_REDRIVE_ROUTE}) with `{"rule"?, "id"?}` (both
 * optional; `{}` redrives everything) answers 200 with a {@link RedriveOutcome}, 400 for a bad
 * body.
 */
export class DeadLetterRoutes {
  constructor(
    private readonly file: string,
    private readonly bus: RedriveBus,
  ) {}

  /** Handles the route's request body (raw text); answers the status and the JSON body. */
  redrive(bodyText: string): { status: number; body: unknown } {
    const filter = parseFilter(bodyText);
    if (typeof filter === 'string') return { status: 400, body: { error: filter } };
    const skipped: DeadLetterSummary[] = [];
    const { taken, left } = takeDeadLetters(
      this.file,
      (letter) => {
        if (!selects(filter, letter)) return false;
        if (this.bus.hasRule(letter.rule)) return true;
        skipped.push(summarize(letter));
        return false;
      },
      (letters) => {
        for (const letter of letters) {
          if (!this.bus.deliverTo(letter.rule, letter.event, 0)) {
            throw new Error(`the bus refused to deliver ${letter.event.id} to ${letter.rule} (closing?)`);
          }
        }
      },
    );
    const outcome: RedriveOutcome = { redriven: taken.map(summarize), skipped, left };
    return { status: 200, body: outcome };
  }
}

/** Validates a redrive request's body; returns a message naming the problem otherwise. */
export function parseFilter(text: string): DeadLetterFilter | string {
  const fields = parseBodyFields(text, ['rule', 'id']);
  if (typeof fields === 'string') return fields;
  const { rule, id } = fields;
  if (rule !== undefined && (typeof rule !== 'string' || !rule)) return 'rule must be a non-empty string';
  if (id !== undefined && (typeof id !== 'string' || !id)) return 'id must be a non-empty string';
  return { ...(rule !== undefined ? { rule } : {}), ...(id !== undefined ? { id } : {}) };
}

function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

function parseDeadLetter(line: string): DeadLetter | undefined {
  try {
    const letter = JSON.parse(line) as Partial<DeadLetter>;
    if (typeof letter.rule !== 'string' || typeof letter.event !== 'object' || letter.event === null) {
      return undefined;
    }
    return {
      rule: letter.rule,
      event: letter.event,
      error: String(letter.error ?? ''),
      attempts: typeof letter.attempts === 'number' ? letter.attempts : 0,
      at: String(letter.at ?? ''),
    };
  } catch {
    return undefined; // a line cut short by a crash
  }
}

/** What an event is about, from the fields the stack's events carry. */
function subjectOf(event: CloudEvent): string {
  const detail = event.detail ?? {};
  const object = detail.object as { key?: unknown } | undefined;
  if (typeof object?.key === 'string') return object.key;
  for (const field of ['TrainingJobName', 'EndpointName', 'alarmName']) {
    if (typeof detail[field] === 'string') return detail[field];
  }
  return '';
}
