/**
 * Every subprocess goes through here (the only module that imports execa): it logs the command in
 * verbose mode, ends the child when the build is interrupted, and turns failures into a ToolError
 * that names the command, its exit code and the last thing it printed.
 */
import { execa, type Options, type ResultPromise } from 'execa';
import { ToolError } from './errors.js';
import { installHint, packageOf, searchPath } from './host-tools.js';
import { debug, isVerbose } from './log.js';
import { isNoise, OutputTail, TAIL_LINES } from './output-tail.js';
import { interruptSignal } from './signals.js';

export interface RunOptions {
  readonly cwd?: string;
  /** Added to the environment (which is inherited unless `cleanEnv`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cleanEnv?: boolean;
  /** Text written to the child's stdin. */
  readonly input?: string | Uint8Array;
  /** 'inherit' connects the child to kiln's terminal (shell, boot, scripts in verbose mode). */
  readonly stdio?: 'pipe' | 'inherit';
  /** Send stdout to this file instead of capturing it. */
  readonly stdoutFile?: string;
  /** What this command does, for the error: "Installing packages". */
  readonly what?: string;
  readonly hint?: string;
  /** Extra directories to search for the program (ExtraSearchPaths=). */
  readonly searchPaths?: readonly string[];
  /** Exit codes that are not failures. */
  readonly okCodes?: readonly number[];
  /**
   * Strings that must never be shown (passwords): they are replaced in the logged command line and
   * in error messages.
   */
  readonly secrets?: readonly string[];
  /** Cleanup commands must run to the end even after an interrupt. */
  readonly uninterruptible?: boolean;
  /**
   * Called with each line of output (stdout and stderr) as it comes, which is still kept for the
   * error's tail: a build script's compiler output is shown live, and its end again when it fails.
   */
  readonly onOutput?: (line: string) => void;
  /**
   * The output is for kiln to read (a listing, gpg's status lines): stdout and stderr are kept whole
   * and returned. Otherwise only the last lines are kept, for the error, however much a tool prints.
   */
  readonly read?: boolean;
}

export interface RunStatus {
  readonly exitCode: number;
}

export interface RunResult extends RunStatus {
  readonly stdout: string;
  readonly stderr: string;
}

function withoutNoise(output: string): string {
  return output
    .split('\n')
    .filter((line) => !isNoise(line))
    .join('\n');
}

function redact(text: string, secrets: readonly string[] | undefined): string {
  let result = text;
  for (const secret of secrets ?? []) if (secret) result = result.split(secret).join('(secret)');
  return result;
}

export function formatCommand(argv: readonly string[], secrets?: readonly string[]): string {
  return redact(argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' '), secrets);
}

/** A command that reads kiln's terminal (shell, boot, apt-get asking): it must stay in kiln's process group. */
function isInteractive(options: RunOptions): boolean {
  return options.stdio === 'inherit';
}

function execaOptions(options: RunOptions): Options {
  const env = { ...(options.cleanEnv ? {} : process.env), ...options.env };
  env.PATH = searchPath(options.searchPaths, env);
  const interactive = isInteractive(options);
  // --debug=run shows a command's output instead of keeping it (not of those whose output kiln reads
  // or shows itself).
  const inherit =
    interactive || (isVerbose() && options.stdio !== 'pipe' && !options.stdoutFile && options.input === undefined && !options.onOutput && !options.read);
  return {
    cwd: options.cwd,
    env,
    extendEnv: false,
    input: options.input,
    stdin: options.input !== undefined ? 'pipe' : interactive ? 'inherit' : 'ignore',
    stdout: options.stdoutFile ? { file: options.stdoutFile } : inherit ? 'inherit' : 'pipe',
    stderr: inherit ? 'inherit' : 'pipe',
    reject: false,
    // Each command gets a process group of its own, so that an interrupt ends everything it started
    // (mmdebstrap's apt and dpkg, nspawn's payload), not just the direct child — with --debug=run
    // too, where it only writes to the terminal. A command that reads the terminal stays in kiln's
    // group, the terminal's foreground, and is ended by its pid.
    detached: !interactive,
    // execa's own cleanup does nothing for detached children; supervise() covers every child.
    cleanup: false,
    stripFinalNewline: true,
    // Output kiln reads is kept whole (and interleaved, for the error); any other output is read
    // by an OutputTail as it comes.
    buffer: options.read === true,
    all: options.read === true,
    maxBuffer: 256 * 1024 * 1024,
  };
}

const GRACE_MS = 5000;

/** Every child that is still running (or whose process group is), by pid; true: it leads a group of its own. */
const live = new Map<number, boolean>();
let exitHookInstalled = false;

/**
 * When kiln itself ends without unwinding (an uncaught exception, a bug), nothing it started may
 * live on: mmdebstrap writing into a workspace nobody removes, a lock holder. 'exit' handlers run
 * on that path too, and can only act synchronously: SIGKILL to every group still there.
 */
function killEverythingOnExit(): void {
  for (const [pid, ownGroup] of live) signal(pid, ownGroup, 'SIGKILL');
}

/** Sends a signal to a child (or its whole process group), ignoring what is already gone. */
function signal(pid: number, ownGroup: boolean, name: NodeJS.Signals): void {
  try {
    process.kill(ownGroup ? -pid : pid, name);
  } catch {
    // gone
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends the child (its process group, when it has one) on interrupt: SIGTERM, then SIGKILL after a
 * grace period. The returned promise settles when the child has exited and nothing of its group is
 * left: a dying dpkg must not write into a workspace that is being removed, nor into a cache whose
 * lock is about to be released.
 */
function supervise(child: ResultPromise, options: RunOptions, ownGroup: boolean): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return Promise.resolve();
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killEverythingOnExit);
  }
  live.set(pid, ownGroup);
  const interrupt = interruptSignal();
  let killer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    signal(pid, ownGroup, 'SIGTERM');
    killer = setTimeout(() => signal(pid, ownGroup, 'SIGKILL'), GRACE_MS);
  };
  if (!options.uninterruptible) {
    if (interrupt.aborted) onAbort();
    else interrupt.addEventListener('abort', onAbort, { once: true });
  }
  const done = async (): Promise<void> => {
    interrupt.removeEventListener('abort', onAbort);
    if (killer) clearTimeout(killer);
    if (ownGroup) {
      // What the command left running in its group (a daemon a script started) goes with it.
      signal(pid, true, 'SIGKILL');
      for (let waited = 0; groupAlive(pid) && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    }
    live.delete(pid);
  };
  return child.then(done, done);
}

/** Runs a command to completion; throws ToolError unless it exits with 0 (or an okCode). */
export function run(argv: readonly string[], options: RunOptions & { read: true }): Promise<RunResult>;
export function run(argv: readonly string[], options?: RunOptions): Promise<RunStatus>;
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult | RunStatus> {
  const [file, ...args] = argv;
  if (!file) throw new Error('internal: run() without a command');
  if (options.read && options.onOutput) throw new Error('internal: run() both reads and shows the output');
  debug(`$ ${formatCommand(argv, options.secrets)}`);
  const child = execa(file, args, execaOptions(options));
  const tail = options.read ? undefined : new OutputTail(options.onOutput);
  tail?.follow(child.stdout);
  tail?.follow(child.stderr);
  const settled = supervise(child, options, !isInteractive(options));
  const result = await child;
  await settled;
  if (!options.uninterruptible && interruptSignal().aborted && result.failed) {
    throw interruptSignal().reason as Error;
  }
  const exitCode = result.exitCode ?? -1;
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  if (result.failed && !(options.okCodes ?? []).includes(exitCode)) {
    throw toolError(argv, result, tail ?? bufferedTail(typeof result.all === 'string' ? result.all : stderr || stdout), options);
  }
  return options.read ? { stdout, stderr, exitCode } : { exitCode };
}

/** Like run(), but returns the child so its stdin/stdout can be streamed (tar into xz). */
export function spawn(argv: readonly string[], options: RunOptions & { stdin?: 'pipe'; stdout?: 'pipe' } = {}): ResultPromise {
  const [file, ...args] = argv;
  if (!file) throw new Error('internal: spawn() without a command');
  debug(`$ ${formatCommand(argv, options.secrets)}`);
  const child = execa(file, args, {
    ...execaOptions(options),
    detached: true,
    stdin: options.stdin ?? 'ignore',
    stdout: options.stdoutFile ? { file: options.stdoutFile } : 'pipe',
    stderr: 'pipe',
    buffer: false,
    all: false,
  });
  const tail = new OutputTail(options.onOutput);
  // A stdout the caller streams is theirs to read; any other is only for the error.
  if (options.stdout !== 'pipe') tail.follow(child.stdout);
  tail.follow(child.stderr);
  spawned.set(child, { supervised: supervise(child, options, true), tail });
  return child;
}

/** The supervision and the output of each spawn()ed child, for finish(). */
const spawned = new WeakMap<ResultPromise, { supervised: Promise<void>; tail: OutputTail }>();

/** Waits for a spawned child and applies run()'s error handling. */
export async function finish(child: ResultPromise, argv: readonly string[], options: RunOptions = {}): Promise<void> {
  const result = await child;
  const { supervised, tail } = spawned.get(child) ?? {};
  await supervised;
  if (result.failed && interruptSignal().aborted) throw interruptSignal().reason as Error;
  if (result.failed) throw toolError(argv, result, tail ?? new OutputTail(), options);
}

/** The tail of output kept whole (run() with `read`). */
function bufferedTail(output: string): { text(): string; noSpace: boolean } {
  const lines = withoutNoise(output).trimEnd().split('\n').slice(-TAIL_LINES);
  return { text: () => lines.join('\n'), noSpace: /No space left on device/.test(output) };
}

interface FailedResult {
  readonly exitCode?: number;
  readonly signal?: string;
  readonly code?: string;
  readonly originalMessage?: string;
}

function toolError(argv: readonly string[], result: FailedResult, output: { text(): string; noSpace: boolean }, options: RunOptions): ToolError {
  const program = argv[0]!;
  const what = options.what ? `${options.what}: ` : '';
  if (result.code === 'ENOENT' || (result.originalMessage ?? '').includes('ENOENT')) {
    return new ToolError(argv, `${what}${program} not found`, {
      hint: options.hint ?? (packageOf(program) ? installHint([program]) : undefined),
      code: 127,
    });
  }
  const status = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
  if (output.noSpace) {
    return new ToolError(argv, `${what}no space left on device`, {
      code: result.exitCode,
      stderrTail: redact(output.text().split('\n').slice(-20).join('\n'), options.secrets),
      hint: 'free space where the image is built (the output directory, or WorkspaceDirectory=)',
    });
  }
  const command = formatCommand(argv.slice(0, 3), options.secrets) + (argv.length > 3 ? ' …' : '');
  return new ToolError(argv, `${what}${command} ${status}`, {
    code: result.exitCode,
    stderrTail: redact(output.text().trimEnd(), options.secrets),
    hint: options.hint,
  });
}
