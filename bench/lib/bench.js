/**
 * The state of one benchmark run: where its temporary projects live, the warmed package caches,
 * every build it ran (with kiln's peak RSS) and the result rows the report prints.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { kilnStages, timeCommand } from './measure.js';
import { ADDED_PACKAGES, BUILD_PACKAGES, buildArgv, IMAGES, Project, SEED_PACKAGES } from './tools.js';

const BUILD_TIMEOUT_SECONDS = 30 * 60;

export class Bench {
  /**
   * @param {object} options
   * @param {string} options.work        temporary directory for projects and logs
   * @param {string[]} options.tools     'mkosi', 'kiln' (either may be left out)
   * @param {number} options.runs        repetitions of each timed build (the median is reported)
   * @param {string} options.release
   * @param {string} options.mirror
   * @param {string[]} options.sourceLines
   * @param {string} options.kilnBin     path of bin/kiln
   * @param {boolean} options.kilnDebug  run kiln with --debug=run (for the time breakdown; slower)
   * @param {(line: string) => void} options.say  progress output
   */
  constructor(options) {
    Object.assign(this, options);
    this.logs = path.join(this.work, 'logs');
    this.rssDir = path.join(this.work, 'rss');
    this.projects = new Map();
    this.packageCaches = new Map();
    /** Every build: { label, tool, seconds, ok, rssMB, stages }. */
    this.builds = [];
    /** Result rows by case id, in the order cases ran. */
    this.rows = new Map();
    this.counter = 0;
    /** The signal that stopped the run (set by run.js), or false. */
    this.interrupted = false;
  }

  /** Ends the run after an interrupt: no further build starts, and the stopped one is not counted. */
  throwIfInterrupted() {
    if (this.interrupted) throw new Error(`interrupted by ${this.interrupted}`);
  }

  async prepare() {
    await fs.mkdir(this.logs, { recursive: true });
    await fs.mkdir(this.rssDir, { recursive: true });
    this.row('warm', 'warming the package cache (downloads; not compared)', null);
  }

  row(id, title, target) {
    if (!this.rows.has(id)) this.rows.set(id, { id, title, target, samples: {}, note: '' });
    return this.rows.get(id);
  }

  /** The measurements of one tool on one row. */
  sample(row, tool) {
    row.samples[tool] ??= { seconds: [], rssMB: [], failed: null, checks: [] };
    return row.samples[tool];
  }

  /**
   * Runs one build of a project with mkosi or kiln; returns its measurement, or null if it failed.
   * `as` records it under another name on the row (kiln one image after another, for --all).
   */
  build(tool, project, label, { incremental = false, row, extra = [], as = tool } = {}) {
    const argv = buildArgv(tool, project, { incremental, kilnBin: this.kilnBin, kilnDebug: this.kilnDebug, extra });
    return this.timed(tool, argv, project.dir, label, row, as);
  }

  /** Runs and times one command, logs it, and records it on `row` (failures included). */
  async timed(tool, argv, cwd, label, row, as = tool) {
    this.throwIfInterrupted();
    const log = path.join(this.logs, `${String(++this.counter).padStart(2, '0')}-${label}-${tool}.log`);
    this.say(`  ${label}: ${tool} …`);
    const result = await timeCommand({ argv, cwd, log, rssDir: tool === 'kiln' ? this.rssDir : undefined, timeoutSeconds: BUILD_TIMEOUT_SECONDS });
    this.throwIfInterrupted();
    const ok = result.exitCode === 0;
    const rssMB = result.rss ? result.rss.vmHWMkB / 1024 : NaN;
    const stages = tool === 'kiln' ? kilnStages(readFileSync(log, 'utf8')) : [];
    this.builds.push({ label, tool, seconds: result.seconds, ok, rssMB, maxRSSMB: result.rss ? result.rss.maxRSSkB / 1024 : NaN, stages, log });
    const rss = tool === 'kiln' ? `, kiln peak RSS ${Number.isFinite(rssMB) ? `${rssMB.toFixed(0)} MB` : 'not recorded'}` : '';
    this.say(`  ${label}: ${tool} ${ok ? 'took' : 'FAILED after'} ${result.seconds.toFixed(1)} s${rss}${ok ? '' : ` (log: ${log})`}`);
    if (row) {
      const sample = this.sample(row, as);
      if (ok) {
        sample.seconds.push(result.seconds);
        sample.rssMB.push(rssMB);
      } else {
        sample.failed = `build failed (exit ${result.signal ?? result.exitCode}), see ${log}`;
      }
    }
    return ok ? result : null;
  }

  /** Each tool's package cache, filled once by an untimed build that fetches every package used. */
  async packageCache(tool) {
    if (!this.packageCaches.has(tool)) {
      const packages = [...SEED_PACKAGES, ...ADDED_PACKAGES, ...BUILD_PACKAGES];
      const project = await Project.create(path.join(this.work, `warm-${tool}`), this.settings('directory', packages));
      const result = await this.build(tool, project, 'warm-package-cache', { row: this.rows.get('warm') });
      if (!result) throw new Error(`${tool} could not build the warm-up image; see the log above`);
      this.packageCaches.set(tool, project.cache);
    }
    return this.packageCaches.get(tool);
  }

  settings(format, packages = SEED_PACKAGES) {
    return { release: this.release, mirror: this.mirror, format, packages };
  }

  /**
   * The project of one tool for one case (made once, with a copy of the warmed package cache);
   * `append` adds lines to its mkosi.default, `files` writes more files into it.
   */
  async project(tool, name, format, { append, files = {} } = {}) {
    const key = `${tool}/${name}`;
    if (!this.projects.has(key)) {
      const cache = await this.packageCache(tool);
      const project = await Project.create(path.join(this.work, name, tool), { ...this.settings(format), append }, cache);
      for (const [file, content] of Object.entries(files)) {
        const target = path.join(project.dir, file);
        await fs.mkdir(path.dirname(target), { recursive: true });
        if (content.symlink) await fs.symlink(content.symlink, target);
        else await fs.writeFile(target, content);
      }
      this.projects.set(key, project);
    }
    return this.projects.get(key);
  }

  /** The project of one tool for one of the repository's images/ projects, built as it is. */
  async imageProject(tool, image) {
    const key = `${tool}/images/${image}`;
    if (!this.projects.has(key)) {
      const cache = await this.packageCache(tool);
      const settings = { source: path.join(IMAGES, image), release: this.release, mirror: this.mirror };
      this.projects.set(key, await Project.create(path.join(this.work, 'images', image, tool), settings, cache));
    }
    return this.projects.get(key);
  }

  /** A new project of one tool from one of images/ (not shared: each cold build starts from its own). */
  async freshImageProject(tool, image, name) {
    const cache = await this.packageCache(tool);
    const settings = { source: path.join(IMAGES, image), release: this.release, mirror: this.mirror };
    return Project.create(path.join(this.work, 'images', `${image}-${name}`, tool), settings, cache);
  }

  /** Records a content check of one build: ok, and what was found. */
  check(row, tool, ok, detail) {
    this.sample(row, tool).checks.push({ ok, detail });
    this.say(`    check (${tool}): ${ok ? 'ok' : 'FAILED'} — ${detail}`);
  }
}
