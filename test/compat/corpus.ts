/**
 * The compat corpus as kiln sees it: each case of mkosi-compat/corpus/ copied to a temporary
 * directory (as generate.py does for mkosi 14) and resolved in-process through kiln's own argument
 * parser and loader, with a fixed host and environment so that the result depends on nothing but
 * the case. Placeholders in the stored expectations are filled from the same facts.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArguments } from '../../src/cli/arguments.js';
import type { Host } from '../../src/config/host.js';
import { loadConfig, type Loaded } from '../../src/config/load.js';
import { configToJson, type JsonValue } from '../../src/config/summary.js';
import { findProblems } from '../../src/config/validate.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const COMPAT = path.join(REPO, 'mkosi-compat');
export const CORPUS = path.join(COMPAT, 'corpus');

/** What kiln runs on here; mkosi 14 ran on the real host, whose values generate.py replaced by $HOST_…. */
export const FAKE_HOST: Host = {
  distribution: 'debian',
  release: 'bookworm',
  architecture: os.machine(),
  debianMirror: 'file:///srv/kiln-compat/debian',
  kvm: false,
};

const XDG_CACHE_HOME = '/nonexistent/kiln-compat-cache';

/** The same environment generate.py gives mkosi 14 (see ENVIRONMENT there), plus kiln's cache base. */
export const ENVIRONMENT: Readonly<Record<string, string>> = {
  PATH: '/nonexistent/kiln-compat',
  KILN_COMPAT_FROM_HOST: 'passed through',
  XDG_CACHE_HOME,
};

/** Files of a case directory that are not part of the configuration. */
const NOT_COPIED = new Set(['expected.json', 'args']);

export function caseNames(): string[] {
  return readdirSync(CORPUS)
    .filter((name) => statSync(path.join(CORPUS, name)).isDirectory())
    .sort();
}

export function readArgs(caseDir: string): string[] {
  let text: string;
  try {
    text = readFileSync(path.join(caseDir, 'args'), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

export interface ResolvedCase {
  readonly dir: string;
  readonly loaded: Loaded;
  readonly json: Record<string, JsonValue>;
  readonly errors: readonly string[];
  cleanup(): void;
}

/** Copies the case to a temporary directory and resolves it the way `kiln summary --json` would. */
export function resolveCase(name: string): ResolvedCase {
  const source = path.join(CORPUS, name);
  const dir = path.join(realpathSync(mkdtempSync(path.join(os.tmpdir(), 'kiln-compat-'))), name);
  cpSync(source, dir, { recursive: true, filter: (file) => !NOT_COPIED.has(path.relative(source, file)) });
  const cleanup = (): void => rmSync(path.dirname(dir), { recursive: true, force: true });
  try {
    const args = parseArguments([...readArgs(source), 'summary'], { summary: {} });
    const loaded = loadConfig({
      directory: path.resolve(dir, args.directory ?? '.'),
      defaultPath: args.defaultPath,
      extraFiles: args.configFiles.map((file) => path.resolve(dir, file)),
      extraFilesAt: args.configFilesAt,
      commandLine: args.assignments,
      host: FAKE_HOST,
      env: ENVIRONMENT,
      cwd: dir,
    });
    const problems = findProblems(loaded.config, loaded.context, (file) => file);
    return { dir, loaded, json: configToJson(loaded.config), errors: problems.errors.map((e) => e.message), cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/** Fills the placeholders of stored expectations ($CASE, $HOST_…) and of deviations (${Key}). */
export function substitute(value: JsonValue, facts: { dir: string; kiln: Record<string, JsonValue> }): JsonValue {
  if (typeof value === 'string') {
    if (value === '$HOST_KVM') return FAKE_HOST.kvm;
    return value
      .replaceAll('$CASE', facts.dir)
      .replaceAll('$HOST_DISTRIBUTION', FAKE_HOST.distribution ?? '')
      .replaceAll('$HOST_RELEASE', FAKE_HOST.release ?? '')
      .replaceAll('$HOST_ARCH', FAKE_HOST.architecture)
      .replaceAll('$HOST_DEBIAN_MIRROR', FAKE_HOST.debianMirror ?? '')
      .replaceAll('$XDG_CACHE_HOME', XDG_CACHE_HOME)
      .replace(/\$\{(\w+)\}/g, (_, key: string) => String(facts.kiln[key]));
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, facts));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, facts)]));
  }
  return value;
}
