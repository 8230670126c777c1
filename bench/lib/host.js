/**
 * Facts about the machine the benchmark runs on: the Debian release and mirror to build from (both
 * read from the host, so no mirror host name is ever written into the harness or its report), and
 * what the report states about the machine and the tools.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function hostRelease() {
  const text = readFileSync('/etc/os-release', 'utf8');
  const codename = /^VERSION_CODENAME=["']?([^"'\n]+)/m.exec(text)?.[1];
  if (!codename) throw new Error('/etc/os-release names no VERSION_CODENAME: run the benchmark on a Debian host');
  return codename;
}

/** deb822 stanzas (`Types:`, `URIs:`, `Suites:` …) of one .sources file. */
function parseDeb822(text) {
  const stanzas = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = {};
    let last;
    for (const line of block.split('\n')) {
      if (/^\s*#/.test(line) || line.trim() === '') continue;
      const match = /^([\w-]+):\s*(.*)$/.exec(line);
      if (match) fields[(last = match[1].toLowerCase())] = match[2].trim();
      else if (last && /^\s/.test(line)) fields[last] += ` ${line.trim()}`;
    }
    if (fields.uris) stanzas.push(fields);
  }
  return stanzas.map((f) => ({
    types: (f.types ?? 'deb').split(/\s+/),
    uris: f.uris.split(/\s+/),
    suites: (f.suites ?? '').split(/\s+/),
  }));
}

/** One-line `deb URI SUITE COMPONENTS…` entries. */
function parseOneLine(text) {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').replace(/\[[^\]]*\]/, ' ').trim().split(/\s+/))
    .filter((words) => words[0] === 'deb' && words.length >= 3)
    .map((words) => ({ types: ['deb'], uris: [words[1]], suites: [words[2]] }));
}

function hostAptEntries() {
  const entries = [];
  const dir = '/etc/apt/sources.list.d';
  const files = existsSync(dir) ? readdirSync(dir).sort().map((name) => path.join(dir, name)) : [];
  for (const file of files) {
    if (file.endsWith('.sources')) entries.push(...parseDeb822(readFileSync(file, 'utf8')));
    else if (file.endsWith('.list')) entries.push(...parseOneLine(readFileSync(file, 'utf8')));
  }
  if (existsSync('/etc/apt/sources.list')) entries.push(...parseOneLine(readFileSync('/etc/apt/sources.list', 'utf8')));
  return entries.filter((entry) => entry.types.includes('deb'));
}

/** The URI of the host's apt entry for the release itself (not -updates or -security). */
export function hostMirror(release) {
  const entry = hostAptEntries().find((e) => e.suites.includes(release));
  if (!entry) throw new Error(`the host's apt sources have no entry for ${release}: cannot pick a mirror`);
  return entry.uris[0].replace(/\/+$/, '');
}

/** The host's `deb URI SUITE main` lines for the release and its -updates/-security suites. */
export function hostSourceLines(release) {
  const lines = [];
  for (const entry of hostAptEntries()) {
    for (const suite of entry.suites) {
      if (suite === release || suite === `${release}-updates` || suite === `${release}-security`) {
        lines.push(`deb ${entry.uris[0].replace(/\/+$/, '')} ${suite} main`);
      }
    }
  }
  return [...new Set(lines)];
}

function firstLine(argv) {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0].trim();
  } catch {
    return 'not installed';
  }
}

export function loadAverage() {
  return os.loadavg().map((n) => n.toFixed(2)).join(' ');
}

/** The commit kiln's checkout is at, with "+changes" when its src/ differs from it. */
function kilnCommit(kilnDir) {
  const commit = firstLine(['git', '-C', kilnDir, 'rev-parse', '--short', 'HEAD']);
  const dirty = firstLine(['git', '-C', kilnDir, 'status', '--porcelain', '--', 'src']);
  return dirty && dirty !== 'not installed' ? `${commit}+changes` : commit;
}

export function machineFacts(kilnDir, kilnArgv, workBase) {
  const cpus = os.cpus();
  return {
    cpu: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    os: /^PRETTY_NAME="?([^"\n]+)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown',
    filesystem: firstLine(['findmnt', '-no', 'FSTYPE', '-T', workBase]),
    systemd: firstLine(['systemctl', '--version']),
    node: process.version,
    kiln: `${firstLine([...kilnArgv, '--version'])} (commit ${kilnCommit(kilnDir)})`,
    mkosi: firstLine(['mkosi', '--version']),
    mmdebstrap: firstLine(['mmdebstrap', '--version']),
    debootstrap: firstLine(['dpkg-query', '-W', '-f', 'debootstrap ${Version}', 'debootstrap']),
  };
}
