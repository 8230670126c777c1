/**
 * Turns the benchmark's rows into verdicts, a plain table for the terminal and Markdown for
 * docs/performance.md.
 */
import { median } from './measure.js';

export const RSS_LIMIT_MB = 200;

const seconds = (sample) => (sample && !sample.failed && sample.seconds.length ? median(sample.seconds) : NaN);
const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

function contentText(sample, tool) {
  if (!sample) return '';
  if (sample.failed) return `${tool}: build failed`;
  if (sample.checks.length === 0) return '';
  const bad = sample.checks.filter((c) => !c.ok);
  return bad.length === 0 ? `${tool} ok` : `${tool} FAIL (${bad[0].detail})`;
}

/** One row of results, with what the target says about it. */
export function verdict(row) {
  // What kiln is compared with: mkosi 14, unless the row names another baseline.
  const baseline = row.baseline ?? 'mkosi';
  const mkosi = seconds(row.samples[baseline]);
  const kiln = seconds(row.samples.kiln ?? row.samples.mmdebstrap);
  const ratio = kiln / mkosi;
  const kilnSample = row.samples.kiln;
  const contentOk = kilnSample ? !kilnSample.failed && kilnSample.checks.every((c) => c.ok) : false;
  let target = '—';
  let pass = '';
  if (row.target?.ratio) {
    target = `≤ ${row.target.ratio}×`;
    pass = Number.isFinite(ratio) ? (ratio <= row.target.ratio && contentOk ? 'pass' : 'FAIL') : 'n/a';
  } else if (row.target?.content) {
    target = 'content';
    pass = kilnSample ? (contentOk ? 'pass' : 'FAIL') : 'n/a';
  }
  const rss = kilnSample ? Math.max(...kilnSample.rssMB.filter(Number.isFinite)) : NaN;
  const runs = Math.max(...Object.values(row.samples).map((s) => s.seconds.length), 0);
  return {
    title: row.title,
    mkosi: baseline === 'mkosi' ? fmt(mkosi) : `${fmt(mkosi)} (${baseline})`,
    kiln: row.samples.mmdebstrap ? `${fmt(kiln)} (mmdebstrap)` : fmt(kiln),
    ratio: Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—',
    target,
    pass,
    rss: Number.isFinite(rss) ? `${rss.toFixed(0)} MB` : '—',
    content: [contentText(kilnSample, 'kiln'), contentText(row.samples[baseline], baseline), row.samples.mmdebstrap?.checks.at(-1)?.detail ?? '', row.note]
      .filter(Boolean)
      .join('; '),
    runs,
    note: row.note,
  };
}

const COLUMNS = [
  ['case', 'title'],
  ['mkosi 14 s', 'mkosi'],
  ['kiln s', 'kiln'],
  ['ratio', 'ratio'],
  ['target', 'target'],
  ['pass/fail', 'pass'],
  ['kiln peak RSS', 'rss'],
  ['content checks', 'content'],
];

export function rssSummary(builds) {
  const kiln = builds.filter((b) => b.tool === 'kiln');
  const measured = kiln.filter((b) => Number.isFinite(b.rssMB));
  const peak = Math.max(...measured.map((b) => b.rssMB));
  const pass = measured.length === kiln.length && kiln.length > 0 && peak < RSS_LIMIT_MB;
  return { builds: kiln.length, measured: measured.length, peak, pass };
}

export function textTable(rows) {
  const cells = rows.map(verdict).map((v) => COLUMNS.map(([, key]) => String(v[key])));
  const header = COLUMNS.map(([name]) => name);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((text, i) => text.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function markdownTable(rows) {
  const escape = (text) => String(text).replaceAll('|', '\\|');
  const out = [`| ${COLUMNS.map(([name]) => name).join(' | ')} | runs |`, `|${COLUMNS.map(() => '---').join('|')}|---|`];
  for (const v of rows.map(verdict)) out.push(`| ${COLUMNS.map(([, key]) => escape(v[key])).join(' | ')} | ${v.runs} |`);
  return out.join('\n');
}

/** Median time of each kiln stage over the builds whose label starts with `prefix`. */
export function stageBreakdown(builds, prefix) {
  const chosen = builds.filter((b) => b.tool === 'kiln' && b.ok && b.label.startsWith(prefix));
  if (chosen.length === 0) return null;
  const byStage = new Map();
  for (const build of chosen) for (const [title, s] of build.stages) byStage.set(title, [...(byStage.get(title) ?? []), s]);
  const total = median(chosen.map((b) => b.seconds));
  const stages = [...byStage].map(([title, values]) => ({ title, seconds: median(values) })).filter((s) => s.seconds >= 0.05);
  const accounted = stages.reduce((sum, s) => sum + s.seconds, 0);
  return { builds: chosen.length, total, stages, other: total - accounted };
}
