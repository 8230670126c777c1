/**
 * Writes the measured part of docs/performance.md: everything between the two marker comments is
 * replaced by the latest run; what is written around them (analysis, ideas) is kept.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { markdownTable, RSS_LIMIT_MB, rssSummary, stageBreakdown } from './report.js';

const BEGIN = '<!-- bench:begin (written by `npm run bench -- --write`; edit outside these markers) -->';
const END = '<!-- bench:end -->';

const METHOD = `### Method

- **Same input for both tools.** Every (tool, case) pair builds its own temporary project (under
  \`/var/tmp\`, never in the repository's \`images/\`) made from \`bench/configs/seed/\`: Debian, the
  host's release, \`Packages=systemd-container\`, the default base packages, and a one-file
  \`mkosi.extra/\`. \`Release=\` and \`Mirror=\` are filled in from the host (\`/etc/os-release\`, and the
  Debian entry of the host's apt sources), so both tools download from the same mirror; \`Mirror=\` is
  explicit because mkosi 14's own default is a fixed host.
- **Commands.** mkosi 14: \`mkosi --nspawn-keep-unit --force [--incremental] build\` (the machine has no
  systemd as PID 1). kiln: \`node bin/kiln --cache mkosi.cache --force [--incremental] build\`.
- **Package caches, warmed.** Before anything is timed each tool builds the seed once with every
  package the benchmark uses, which fills its package cache; each project then gets a hard-linked copy
  of it in \`mkosi.cache/\`. So the time to download .debs does not decide. Both tools still fetch the
  apt indexes on every build, and mkosi 14's debootstrap step takes no package cache at all (mkosi 14
  does not give it one), so its base system is downloaded on every cold build — that is mkosi 14 as
  shipped.
- **Wall time** is from spawning the tool to its exit. Cold cases build from scratch with
  \`--force\`. The iterate cases share one gpt_ext4 project per tool, built once with \`--incremental\`
  to fill the cache (the "first --incremental build" row, not compared), then timed: after writing new
  content into a file in \`mkosi.extra/\`, and after adding a package to \`Packages=\` (a different
  package each repetition, so kiln cannot simply hit an earlier entry).
- **Build scripts (issue 14).** \`build-first\` builds [images/build-from-source](../images/build-from-source)
  (a C program; \`BuildPackages=gcc,make,libc6-dev\`, \`BuildDirectory=mkosi.builddir\`) with
  \`--incremental\` from an empty incremental cache; \`build-iterate\` then rewrites the greeting in
  \`src/greeting.c\` and rebuilds with \`--force --incremental\`. Each project is a git repository with
  everything committed, as a real one is, so both tools copy the sources with copy-git-others
  (mkosi 14's default there) and leave out what its \`.gitignore\` names; without git mkosi 14 would copy
  the previous image and the package cache into every development image. The checks run the
  program in the image with systemd-nspawn (it must print what the source says), look for gcc in the
  image (it must not be there), and read the build's log for what make compiled (after the edit:
  greeting.c alone).
- **Content checks.** After each timed build the harness reads the image — directly, with GNU tar, or
  for gpt_ext4 with sfdisk and e2fsprogs' debugfs at the root partition's offset — and checks that
  \`systemd-container\` is installed (dpkg's status), that the mkosi.extra file has the content just
  written, and that the added package is installed. A time whose image lacks the content fails.
- **kiln's peak RSS** is that of kiln's node process alone, not of the tools it starts: the
  harness preloads \`bench/lib/peak-rss.cjs\` (\`NODE_OPTIONS=--require …\`), which at exit records
  \`VmHWM\` from \`/proc/self/status\` (the high-water mark of this process's own address space).
  \`process.resourceUsage().maxRSS\` is recorded beside it as a cross-check; it can be higher, since it
  may count the harness pages the child had mapped at fork.
- **\`--all\` (all-three).** One project per tool holds the seed three times in \`mkosi.files/\`
  (directory, tar, gpt_ext4, named apart by \`ImageId=\`) and the shared \`mkosi.extra/\`. Timed:
  \`kiln --force --all build\` (side by side; images that make the same root bootstrap it once),
  three \`kiln --force --all --image NAME build\` one after another (each its own bootstrap, as
  without --all; their sum stands in the mkosi 14 column of the second row) and
  \`mkosi --force --all build\`. Every image's content is checked.
- **Median of N.** \`--runs N\` repeats each timed build; the table shows medians.`;

function machineTable(facts) {
  const rows = Object.entries(facts).map(([key, value]) => `| ${key} | ${String(value).replaceAll('|', '\\|')} |`);
  return ['| | |', '|---|---|', ...rows].join('\n');
}

function stagesSection(builds) {
  const parts = [];
  for (const [prefix, what] of [['cold-directory', 'cold directory build'], ['cold-tar', 'cold tar build'], ['iterate-extra', 'rebuild after an mkosi.extra edit'], ['iterate-package', 'rebuild after adding a package'], ['build-first', 'first build with a build script'], ['build-iterate', 'rebuild after editing one .c file']]) {
    const breakdown = stageBreakdown(builds, prefix);
    if (!breakdown) continue;
    const lines = breakdown.stages.map((s) => `  - ${s.title}: ${s.seconds.toFixed(1)} s`);
    lines.push(`  - outside the stages (start-up, checks, commit, cleanup): ${breakdown.other.toFixed(1)} s`);
    parts.push(`- ${what}, ${breakdown.total.toFixed(1)} s (median of ${breakdown.builds}):\n${lines.join('\n')}`);
  }
  return parts.length ? `### Where kiln's time goes (its own stage lines)\n\n${parts.join('\n')}` : '';
}

function buildList(builds) {
  const lines = builds.map(
    (b) => `| ${b.label} | ${b.tool} | ${b.ok ? b.seconds.toFixed(1) : `failed after ${b.seconds.toFixed(1)}`} | ${Number.isFinite(b.rssMB) ? `${b.rssMB.toFixed(0)} (${b.maxRSSMB.toFixed(0)})` : ''} |`,
  );
  return ['| build | tool | seconds | kiln VmHWM MB (ru_maxrss) |', '|---|---|---|---|', ...lines].join('\n');
}

export function renderResults({ date, preliminary, loadStart, loadEnd, facts, rows, builds, options }) {
  const rss = rssSummary(builds);
  const status = preliminary
    ? `**PRELIMINARY** — measured while other work ran on the machine (load average at start ${loadStart}, at end ${loadEnd}; the machine has ${facts.cpu.split(' ')[0]} cores). Not the final numbers.`
    : `Measured on a quiet machine (load average at start ${loadStart}, at end ${loadEnd}).`;
  return [
    BEGIN,
    `## Results of ${date}`,
    '',
    status,
    '',
    `Command: \`npm run bench -- ${options}\``,
    '',
    markdownTable(rows),
    '',
    `kiln's peak RSS over all ${rss.builds} kiln builds of this run (warm-up included): ${Number.isFinite(rss.peak) ? `${rss.peak.toFixed(0)} MB` : 'not measured'} — target < ${RSS_LIMIT_MB} MB: **${rss.pass ? 'pass' : 'FAIL'}**${rss.measured < rss.builds ? ` (${rss.builds - rss.measured} builds not measured)` : ''}.`,
    '',
    '### Machine',
    '',
    machineTable(facts),
    '',
    stagesSection(builds),
    '',
    '<details><summary>Every build of this run</summary>',
    '',
    buildList(builds),
    '',
    '</details>',
    '',
    METHOD,
    END,
  ].join('\n');
}

export function writeDoc(file, results) {
  const block = renderResults(results);
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const begin = text.indexOf(BEGIN.slice(0, 20));
  const end = text.indexOf(END);
  if (begin >= 0 && end > begin) text = `${text.slice(0, begin)}${block}${text.slice(end + END.length)}`;
  else text = `# Performance: kiln against mkosi 14\n\nHow to run: \`npm run bench\` (see bench/README.md).\n\n${block}\n`;
  writeFileSync(file, text);
}
