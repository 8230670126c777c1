/**
 * Runs one build and measures it: wall time from spawn to the process's exit, and (for kiln) the
 * peak RSS of kiln's own node process through the peak-rss.cjs preload. Output goes to a log file
 * with each line stamped with the seconds since the start, so the log also shows where time went.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const PRELOAD = fileURLToPath(new URL('./peak-rss.cjs', import.meta.url));

let current;

/** The build that is running now (so that an interrupted benchmark can say what it was doing). */
export function runningBuild() {
  return current;
}

/** Sends `signal` to the running build's process group; false when no build runs. */
export function stopBuild(signal) {
  if (!current) return false;
  try {
    process.kill(-current.pid, signal);
  } catch (error) {
    if (error.code !== 'ESRCH') throw error;
  }
  return true;
}

function stampLines(stream, out, started, tag) {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => out.write(`[${((performance.now() - started) / 1000).toFixed(2).padStart(7)}]${tag} ${line}\n`));
  return new Promise((resolve) => lines.once('close', resolve));
}

/**
 * @param {object} job
 * @param {string[]} job.argv      command and arguments
 * @param {string} job.cwd
 * @param {string} job.log         log file to write
 * @param {string} [job.rssDir]    when set, kiln's node process reports its peak RSS here
 * @param {number} [job.timeoutSeconds]
 * @returns {Promise<{seconds: number, exitCode: number|null, signal: string|null, rss: {vmHWMkB: number, maxRSSkB: number}|null, log: string}>}
 */
export async function timeCommand(job) {
  const env = { ...process.env, LC_ALL: 'C.UTF-8' };
  // A terminal would make kiln draw spinners and mkosi colour codes; the logs want plain lines.
  delete env.TERM;
  if (job.rssDir) {
    env.KILN_BENCH_RSS_DIR = job.rssDir;
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --require "${PRELOAD}"`.trim();
  }
  const out = createWriteStream(job.log, { flags: 'a' });
  out.write(`# ${job.argv.join(' ')}\n# cwd ${job.cwd}\n`);
  const started = performance.now();
  // Its own process group: a terminal's Ctrl-C reaches the harness alone, which passes exactly one
  // signal on to the whole build (stopBuild), as Ctrl-C on the build itself would.
  const child = spawn(job.argv[0], job.argv.slice(1), { cwd: job.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  current = { argv: job.argv, cwd: job.cwd, log: job.log, pid: child.pid };
  const streams = Promise.all([stampLines(child.stdout, out, started, ''), stampLines(child.stderr, out, started, ' !')]);
  const timer = job.timeoutSeconds ? setTimeout(() => stopBuild('SIGTERM'), job.timeoutSeconds * 1000) : undefined;
  const { exitCode, signal, ended } = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, sig) => resolve({ exitCode: code, signal: sig, ended: performance.now() }));
  });
  clearTimeout(timer);
  current = undefined;
  // A daemon the build left behind could hold the pipes open; do not wait for it forever.
  await Promise.race([streams, new Promise((resolve) => setTimeout(resolve, 5000))]);
  const seconds = (ended - started) / 1000;
  out.write(`# exit ${signal ?? exitCode} after ${seconds.toFixed(2)} s\n`);
  await new Promise((resolve) => out.end(resolve));

  let rss = null;
  const rssFile = job.rssDir && path.join(job.rssDir, `${child.pid}.json`);
  if (rssFile && existsSync(rssFile)) rss = JSON.parse(readFileSync(rssFile, 'utf8'));
  return { seconds, exitCode, signal, rss, log: job.log };
}

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** kiln's plain progress lines, "‣ Installing packages (23s)", as [title, seconds] in log order. */
export function kilnStages(logText) {
  const stages = [];
  for (const match of logText.matchAll(/^\[[\s\d.]+\] ! [‣✗] (.+) \((\d+(?:\.\d+)?)s\)$/gm)) {
    // Cache keys differ from run to run ("Using the cached root 022109c865ea0f77"); the stage does not.
    const title = match[1].replace(/\b[0-9a-f]{16}\b/g, '<key>').replace(/^(Extending the cached root <key> with ).+$/, '$1<added packages>');
    stages.push([title, Number(match[2])]);
  }
  return stages;
}
