/**
 * Running the real kiln CLI (compiled, as users run it) in integration tests, and the checks that
 * every failed or finished build must leave nothing behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { needs, unavailable } from '../../skip.js';
import { copyImageDefinition } from './image-definition.js';

export const REPO = path.resolve(import.meta.dirname, '../../..');
export const KILN = path.join(REPO, 'bin/kiln');
/** One package cache for all integration tests, so each .deb is downloaded once per machine. */
export const TEST_CACHE = process.env.KILN_TEST_CACHE ?? '/var/tmp/kiln-test-cache';
/**
 * For a build whose test is about what comes after the bootstrap: the shared package cache and the
 * incremental cache, so that every test building the same definition starts from one cached root
 * (seconds instead of a minute's bootstrap). Tests of the bootstrap itself build without it.
 */
export const CACHED: readonly string[] = ['--cache', TEST_CACHE, '--incremental'];

export interface KilnResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs kiln asynchronously: a build takes minutes, and a test worker blocked in spawnSync that long
 * loses its connection to vitest.
 */
export function kiln(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<KilnResult> {
  return runAsync([KILN, ...args], options);
}

/** Runs any command asynchronously (kiln wrapped in unshare, for one) and collects its output. */
export function runAsync(argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<KilnResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Like kiln(), but throws with kiln's own output when it fails. */
export async function kilnOk(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<KilnResult> {
  const result = await kiln(args, options);
  if (result.status !== 0) throw new Error(`kiln ${args.join(' ')} exited with ${result.status}:\n${result.stderr}`);
  return result;
}

/**
 * A copy of an images/ definition (or an empty dir) in a temp directory, so builds never touch the
 * repo and nothing built in the checkout reaches the test.
 */
export function makeProject(image?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-it-'));
  if (image) copyImageDefinition(path.join(REPO, 'images', image), dir);
  return dir;
}

/** Why a test that needs root and these tools cannot run here (skipped; in CI a failure), or undefined. */
export function whyNotRoot(tools: readonly string[] = [], otherwise?: string): string | undefined {
  return unavailable(needs(tools) ?? otherwise);
}

/** Mount points at or below a directory. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

/** Leftover kiln workspaces in a directory. */
export function workspacesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('.kiln-build-')) : [];
}

/** "pid: command line" of every process but this one for which `test` holds (a process gone meanwhile is skipped). */
function processesWhere(test: (pid: string, cmdline: string) => boolean): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (Number(pid) !== process.pid && test(pid, cmdline)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone
    }
  }
  return found;
}

/** The processes whose working directory is `dir`: a kiln started there, whatever its arguments. */
export function processesIn(dir: string): string[] {
  const real = realpathSync(dir);
  return processesWhere((pid) => readlinkSync(`/proc/${pid}/cwd`) === real);
}

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 600_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Running processes whose command line mentions a path (nspawn, mmdebstrap, …). */
export function processesMentioning(needle: string): string[] {
  return processesWhere((_pid, cmdline) => cmdline.includes(needle));
}
