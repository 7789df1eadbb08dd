/**
 * A training job's child process: spawning it in its own process group, writing its output to the
 * job's log, keeping the tail of its stderr for the failure reason, and stopping it the way
 * SageMaker stops a container (SIGTERM, then SIGKILL after a grace period). Where this stands:
 * local runtime; the local training service runs each job's program with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';

/** The grace SageMaker gives a container between SIGTERM and the kill (StoppingCondition docs). */
export const SIGTERM_GRACE_SECONDS = 120;

/** stderr lines kept for the failure reason, and the most characters of them. */
const STDERR_TAIL_LINES = 10;
const STDERR_TAIL_CHARS = 800;

/** What to spawn. */
export interface Command {
  readonly command: string;
  readonly args: string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
}

/** How the process ended. */
export interface ProcessExit {
  /** 127 when the command could not be started (as a shell reports it). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines of stderr, joined with ` | `. */
  readonly stderrTail: string;
}

/** A started process. */
export interface TrainingProcess {
  /** Undefined when spawning threw (`exit` then reports why). */
  readonly child: ChildProcess | undefined;
  /** Resolves once the process has exited and both its streams are closed; never rejects. */
  readonly exit: Promise<ProcessExit>;
}

/**
 * Spawns `command`. Every line of stdout and stderr goes to `logs` with tabs shown as `#011`, as
 * CloudWatch shows them, and to `onLine` (shown, and as printed).
 */
export function startTrainingProcess(
  command: Command,
  logs: Writable,
  onLine: (shown: string, raw: string) => void = () => {},
): TrainingProcess {
  const stderrTail: string[] = [];
  const line = (text: string, stream: 'stdout' | 'stderr') => {
    const shown = text.replace(/\t/g, '#011');
    logs.write(shown + '\n');
    if (stream === 'stderr' && text.trim()) {
      stderrTail.push(text.trim());
      if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    }
    onLine(shown, text);
  };
  let resolveExit!: (exit: ProcessExit) => void;
  const exit = new Promise<ProcessExit>((r) => (resolveExit = r));
  const finish = (code: number | null, signal: NodeJS.Signals | null, extra?: string) => {
    if (extra) stderrTail.push(extra);
    resolveExit({ code, signal, stderrTail: stderrTail.join(' | ').slice(-STDERR_TAIL_CHARS) });
  };
  let child: ChildProcess;
  try {
    child = spawn(command.command, command.args, {
      cwd: command.cwd,
      env: command.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that stopping it stops whatever it started too.
      detached: true,
    });
  } catch (error) {
    finish(127, null, `cannot start ${command.command}: ${(error as Error).message}`);
    return { child: undefined, exit };
  }
  // The last lines arrive after 'exit': finish once both streams are closed too.
  const closed = {
    stdout: false,
    stderr: false,
    exit: undefined as undefined | [number | null, NodeJS.Signals | null],
  };
  const maybeFinish = () => {
    if (closed.stdout && closed.stderr && closed.exit) finish(...closed.exit);
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    let buffer = '';
    const source = child[stream]!;
    source.setEncoding('utf8');
    source.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const text of lines) line(text.replace(/\r$/, ''), stream);
    });
    source.on('close', () => {
      if (buffer) line(buffer, stream);
      closed[stream] = true;
      maybeFinish();
    });
  }
  child.on('error', (error) => {
    // Spawn failures (ENOENT, EACCES): no exit event follows.
    closed.stdout = closed.stderr = true;
    closed.exit ??= [127, null];
    stderrTail.push(`cannot start ${command.command}: ${error.message}`);
    maybeFinish();
  });
  child.on('exit', (code, signal) => {
    closed.exit = [code, signal];
    maybeFinish();
  });
  return { child, exit };
}

/** SIGTERM to the process's group, SIGKILL after `graceMs`; nothing when it is not running. */
export function terminateProcess(child: ChildProcess | undefined, graceMs: number): void {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // No group (it exited meanwhile, or the platform has none): the process alone.
      child.kill(sig);
    }
  };
  signal('SIGTERM');
  const kill = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) signal('SIGKILL');
  }, graceMs);
  kill.unref();
  child.once('exit', () => clearTimeout(kill));
}

/** Whether a process with this pid exists (this one always does). */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
