#!/usr/bin/env node
/**
 * kiln against mkosi 14 on the same configurations (issue 6): `npm run bench [-- OPTIONS]`.
 * Plain JavaScript, so that it runs without compiling; it starts kiln from its bin/kiln (which needs
 * dist/, from `npx tsc`). Run as root on a Debian host with mkosi 14 and mmdebstrap installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Bench } from './lib/bench.js';
import { CASES, DEFAULT_CASES } from './lib/cases.js';
import { writeDoc } from './lib/doc.js';
import { hostMirror, hostRelease, hostSourceLines, loadAverage, machineFacts } from './lib/host.js';
import { stopUdev } from './lib/image.js';
import { runningBuild, stopBuild } from './lib/measure.js';
import { RSS_LIMIT_MB, rssSummary, textTable } from './lib/report.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

const USAGE = `Usage: npm run bench -- [OPTIONS]

Builds the seed configuration (bench/configs/seed) with mkosi 14 and kiln, times them, checks the
images' content and prints a table. Needs root, mkosi 14, mmdebstrap, debugfs and sfdisk.

  --cases LIST     cases to run, comma-separated (default: ${DEFAULT_CASES.join(',')});
                   all cases: ${CASES.map((c) => c.id).join(', ')}
  --runs N         repetitions of every timed build; the table shows the median (default: 1)
  --tools LIST     mkosi,kiln (default: both; one alone gives times without ratios)
  --write          write the results into docs/performance.md (between its bench markers)
  --preliminary    mark the results preliminary (automatic when the 1-minute load average is ≥ 0.5)
  --kiln DIR       the kiln checkout to measure (default: this one; its dist/ must be built)
  --kiln-debug     run kiln with --debug=run (the logs then show every command; slower)
  --work-dir DIR   where the temporary projects go (default: /var/tmp)
  --keep           keep the temporary projects and logs
  -h, --help       show this help`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      cases: { type: 'string' },
      runs: { type: 'string', default: '1' },
      tools: { type: 'string', default: 'mkosi,kiln' },
      write: { type: 'boolean', default: false },
      preliminary: { type: 'boolean', default: false },
      kiln: { type: 'string', default: REPO },
      'kiln-debug': { type: 'boolean', default: false },
      'work-dir': { type: 'string', default: '/var/tmp' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const ids = values.cases === 'all' ? CASES.map((c) => c.id) : (values.cases ?? DEFAULT_CASES.join(',')).split(',').filter(Boolean);
  const unknown = ids.filter((id) => !CASES.some((c) => c.id === id));
  if (unknown.length) throw new Error(`unknown case ${unknown.join(', ')} (known: ${CASES.map((c) => c.id).join(', ')})`);
  const tools = values.tools.split(',').filter(Boolean);
  if (tools.length === 0 || tools.some((t) => t !== 'mkosi' && t !== 'kiln')) throw new Error('--tools takes mkosi, kiln or both');
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number ≥ 1');
  return { ...values, cases: CASES.filter((c) => ids.includes(c.id)), tools, runs };
}

function checkHost(options) {
  if (process.geteuid?.() !== 0) throw new Error('the benchmark builds images and must run as root');
  const kilnBin = path.join(options.kiln, 'bin/kiln');
  if (!existsSync(path.join(options.kiln, 'dist/kiln.js'))) throw new Error(`${options.kiln}/dist/kiln.js is missing: run npm run build in ${options.kiln} first`);
  const needed = ['mmdebstrap', 'sfdisk', 'debugfs', 'tar', ...(options.tools.includes('mkosi') ? ['mkosi'] : [])];
  const missing = needed.filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) throw new Error(`missing on this host: ${missing.join(', ')}`);
  return kilnBin;
}

/** Removes the temporary projects unless something is still mounted below them. */
function removeWork(work) {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(`${work}/`));
  if (mounts.length) {
    console.error(`bench: ${mounts.length} mounts remain under ${work}; left in place: ${mounts[0]} …`);
    return;
  }
  execFileSync('rm', ['-rf', '--one-file-system', work]);
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const kilnBin = checkHost(options);
  const release = hostRelease();
  const loadStart = loadAverage();
  // Taken before the builds: the commit the measured dist/ came from, not a later one.
  const facts = machineFacts(options.kiln, [process.execPath, kilnBin], options['work-dir']);
  const work = mkdtempSync(path.join(options['work-dir'], 'kiln-bench-'));
  const say = (line) => console.error(`[${new Date().toTimeString().slice(0, 8)}] ${line}`);
  const bench = new Bench({
    work,
    tools: options.tools,
    runs: options.runs,
    release,
    mirror: hostMirror(release),
    sourceLines: hostSourceLines(release),
    kilnBin,
    kilnDebug: options['kiln-debug'],
    say,
  });
  await bench.prepare();
  process.on('exit', stopUdev);
  say(`benchmark in ${work}; load average ${loadStart}; Debian ${release} from the host's apt mirror`);

  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      // Once only: a second signal could cut the build's own cleanup short.
      if (bench.interrupted) return;
      bench.interrupted = signal;
      const build = runningBuild();
      say(`${signal}: stopping${build ? ` the running build (pid ${build.pid})` : ''}; ${work} is kept`);
      stopBuild(signal);
    });
  }

  try {
    for (const testCase of options.cases) {
      bench.throwIfInterrupted();
      say(`${testCase.id}: ${testCase.title}`);
      await testCase.run(bench);
    }
  } catch (error) {
    say(`stopped; the projects and logs are kept in ${work}`);
    if (bench.interrupted) process.exit(bench.interrupted === 'SIGINT' ? 130 : 143);
    throw error;
  }

  const loadEnd = loadAverage();
  const rows = [...bench.rows.values()];
  console.log(textTable(rows));
  const rss = rssSummary(bench.builds);
  if (rss.builds > 0) {
    console.log(`\nkiln peak RSS (node process only) over ${rss.builds} builds: ${rss.peak.toFixed(0)} MB — target < ${RSS_LIMIT_MB} MB: ${rss.pass ? 'pass' : 'FAIL'}`);
  }
  const keep = options.keep || bench.builds.some((b) => !b.ok);
  console.log(`load average: ${loadStart} at start, ${loadEnd} at end; logs in ${bench.logs}${keep ? '' : ' (removed; --keep keeps them)'}`);

  if (options.write) {
    // The load at the start tells whether other work shares the machine; the load at the end is the
    // benchmark's own builds (a 1-minute average right after them), so it is shown but not judged.
    const preliminary = options.preliminary || Number(loadStart.split(' ')[0]) >= 0.5;
    const shown = process.argv.slice(2).filter((a) => a !== '--write' && a !== '--keep').join(' ');
    writeDoc(path.join(REPO, 'docs/performance.md'), {
      date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      preliminary,
      loadStart,
      loadEnd,
      facts,
      rows,
      builds: bench.builds,
      options: shown ? `${shown} --write` : '--write',
    });
    say(`wrote docs/performance.md${preliminary ? ' (marked preliminary)' : ''}`);
  }
  if (!keep) removeWork(work);
}

main().catch((error) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
