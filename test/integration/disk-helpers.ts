/**
 * Shared by the disk and subvolume tests: a small real Debian tree (mmdebstrap minbase with
 * systemd-sysv, made once and cached), running an output format with every loop device masked, and
 * the real tools that check the results.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { detectHost } from '../../src/config/host.js';
import { REPO, TEST_CACHE } from './helpers/kiln.js';

export const DIST = path.join(REPO, 'dist');
const WRITER = path.join(import.meta.dirname, 'disk-write.mjs');
export const FIXTURE = path.join(TEST_CACHE, 'disk-fixture-debian-bookworm');

/** Runs a command and returns its stdout; throws with its stderr when it fails. */
export function sh(argv: readonly string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited with ${result.status}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/**
 * The cached Debian tree (about 240 MB), made with mmdebstrap (apt's parallel downloads and one
 * dpkg run: several times quicker than debootstrap) from the host's own mirror the first time.
 * Built aside and renamed, so concurrent test files never see half a tree.
 */
export function debianFixture(): string {
  if (fs.existsSync(path.join(FIXTURE, 'usr/lib/os-release'))) return FIXTURE;
  const mirror = detectHost().debianMirror;
  if (mirror === null) throw new Error('no Debian mirror in the host apt sources for the disk test fixture');
  fs.mkdirSync(TEST_CACHE, { recursive: true });
  const building = fs.mkdtempSync(path.join(TEST_CACHE, '.disk-fixture-'));
  try {
    sh(['mmdebstrap', '--quiet', '--variant=minbase', '--include=systemd-sysv', 'bookworm', building, mirror]);
    fs.renameSync(building, FIXTURE);
  } catch (error) {
    if (!fs.existsSync(path.join(FIXTURE, 'usr/lib/os-release'))) throw error;
  } finally {
    fs.rmSync(building, { recursive: true, force: true });
  }
  return FIXTURE;
}

/** A private copy of a tree (reflinked where the file system can). */
export function copyTree(source: string, target: string): void {
  sh(['cp', '-a', '--reflink=auto', source, target]);
}

/**
 * A tree of a few entries with the Debian fixture's os-release (what systemd-dissect names the OS
 * by), for tests of what is done to a disk rather than of the tree in it: a disk of it is written,
 * compressed, encrypted and hashed in a fraction of the time the full tree takes.
 */
export function smallTree(source: string, target: string): string {
  for (const dir of ['etc', 'usr/lib', 'home', 'srv', 'var/tmp']) fs.mkdirSync(path.join(target, dir), { recursive: true });
  fs.chmodSync(path.join(target, 'var/tmp'), 0o1777);
  fs.copyFileSync(path.join(source, 'usr/lib/os-release'), path.join(target, 'usr/lib/os-release'));
  fs.symlinkSync('../usr/lib/os-release', path.join(target, 'etc/os-release'));
  return target;
}

/** Whether dist/ holds kiln compiled from the current sources of the disk code. */
export function distIsCurrent(): boolean {
  const built = path.join(DIST, 'outputs/disk.js');
  if (!fs.existsSync(built)) return false;
  const builtAt = fs.statSync(built).mtimeMs;
  const sources = [...fs.readdirSync(path.join(REPO, 'src/disk')).map((f) => path.join(REPO, 'src/disk', f)), path.join(REPO, 'src/outputs/disk.ts'), path.join(REPO, 'src/outputs/subvolume.ts')];
  return sources.every((file) => fs.statSync(file).mtimeMs <= builtAt);
}

/** Compiles kiln into dist/ unless it is current (`npm test` does it first anyway). */
export function ensureDist(): void {
  if (distIsCurrent()) return;
  // Other people's type errors must not stop the emit; the disk code is checked by its own tsc run.
  spawnSync('npx', ['tsc', '-p', REPO], { cwd: REPO, stdio: 'ignore' });
  if (!fs.existsSync(path.join(DIST, 'outputs/disk.js'))) throw new Error('tsc did not produce dist/outputs/disk.js');
}

/**
 * `argv` run in a private mount namespace whose /dev is a copy of the host's without loop-control and
 * without any /dev/loopN, so that no loop device can be made or opened; exits 99 if one still can.
 * A copy rather than masking each node: a loop device another process creates while `argv` runs
 * appears in the host's devtmpfs, and would appear behind a mask too.
 */
export function withoutLoopDevices(argv: readonly string[]): string[] {
  const script = [
    'set -e',
    'dev=$(mktemp -d /run/kiln-test-dev.XXXXXX)',
    'mount -t tmpfs -o mode=0755 kiln-test-dev "$dev"',
    // The file systems mounted right below /dev (pts, shm, …) are bound with what is below them;
    // every other entry but loop* is copied, by one cp (a process per entry took seconds).
    'mounted=$(findmnt -rn -o TARGET | sed -n \'s|^/dev/\\([^/]*\\)$|\\1|p\' | sort -u)',
    'find /dev -mindepth 1 -maxdepth 1 ! -name \'loop*\' $(for name in $mounted; do printf \'! -name %s \' "$name"; done) -print0 | xargs -0 -r cp -a -t "$dev"',
    'for name in $mounted; do mkdir "$dev/$name"; mount --rbind "/dev/$name" "$dev/$name"; done',
    'mount --move "$dev" /dev',
    'rmdir "$dev"',
    // Proof that the copy holds: attaching any loop device must fail here.
    'if losetup -f >/dev/null 2>&1; then echo "a loop device is still available" >&2; exit 99; fi',
    'exec "$@"',
  ].join('\n');
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...argv];
}

export interface WriteResult {
  readonly status: number | null;
  readonly artifacts: { name: string; path: string; sha256?: string; isDirectory?: boolean }[];
  readonly error?: string;
  readonly hint?: string;
  readonly ms?: number;
  readonly stderr: string;
}

/**
 * Writes an output of `root` as the pipeline does, configured by `mkosiDefault`, into `configDir`,
 * in a private mount namespace where /dev/loop-control and every /dev/loopN are /dev/null: a loop
 * device cannot be created or opened there.
 */
export function writeWithoutLoopDevices(configDir: string, mkosiDefault: string, root: string, seed?: string): WriteResult {
  fs.mkdirSync(configDir, { recursive: true });
  fs.writeFileSync(path.join(configDir, 'mkosi.default'), mkosiDefault);
  const args = ['node', WRITER, DIST, configDir, root, ...(seed ? [seed] : [])];
  const result = spawnSync(withoutLoopDevices(args)[0]!, withoutLoopDevices(args).slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status === 99) throw new Error(result.stderr);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  let parsed: Partial<WriteResult> = {};
  try {
    parsed = JSON.parse(line) as Partial<WriteResult>;
  } catch {
    throw new Error(`the disk writer printed no result (status ${result.status}): ${result.stderr}${result.stdout}`);
  }
  return { status: result.status, artifacts: parsed.artifacts ?? [], error: parsed.error, hint: parsed.hint, ms: parsed.ms, stderr: result.stderr };
}

/** Starts systemd-udevd (systemd-dissect waits for partition devices) unless it runs; returns how to stop what was started. */
export function ensureUdev(): () => void {
  // A ping answers only a live udevd (pgrep would also see a zombie).
  if (spawnSync('udevadm', ['control', '--ping', '--timeout=2']).status === 0) return () => undefined;
  const before = new Set(udevPids());
  sh(['/lib/systemd/systemd-udevd', '--daemon']);
  spawnSync('udevadm', ['trigger', '--action=add']);
  spawnSync('udevadm', ['settle']);
  const started = udevPids().filter((pid) => !before.has(pid));
  return () => {
    for (const pid of started) spawnSync('kill', [pid]);
  };
}

function udevPids(): string[] {
  return spawnSync('pgrep', ['-x', 'systemd-udevd'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
}

export interface TablePartition {
  readonly node: string;
  readonly start: number;
  readonly size: number;
  readonly type: string;
  readonly uuid: string;
  readonly name: string;
  readonly attrs?: string;
}

export function partitionTable(image: string): { id: string; firstlba: number; partitions: TablePartition[] } {
  return (JSON.parse(sh(['sfdisk', '--json', image])) as { partitiontable: { id: string; firstlba: number; partitions: TablePartition[] } }).partitiontable;
}

/** Copies one partition out of a disk image into a sparse file. */
export function extractPartition(image: string, partition: TablePartition, target: string): string {
  const bytes = (sectors: number): number => sectors * 512;
  sh(['dd', `if=${image}`, `of=${target}`, 'bs=4M', `skip=${bytes(partition.start)}`, `count=${bytes(partition.size)}`, 'iflag=skip_bytes,count_bytes,fullblock', 'conv=sparse', 'status=none']);
  return target;
}

/**
 * The SHA-256 of a file's bytes, by OpenSSL reading 4 MiB at a time: coreutils' sha256sum has no
 * SHA-NI and reads in small blocks, 7 s of CPU for a GiB of a sparse disk's zeros here against 2.4.
 */
export function sha256File(file: string): string {
  const out = sh(['bash', '-c', 'set -o pipefail; dd if="$1" bs=4M status=none | openssl dgst -sha256 -r', 'bash', file]);
  return /^([0-9a-f]{64}) /.exec(out)?.[1] ?? `no SHA-256 in ${JSON.stringify(out)}`;
}

/**
 * What matters of a tree, one line per entry: type and mode, owner, size of files, mtime in
 * seconds, symlink target, and a digest of file contents. lost+found (ext4) is left out.
 */
export function treeListing(dir: string, options: { skip?: (relative: string) => boolean } = {}): string[] {
  const lines: string[] = [];
  const walk = (relative: string): void => {
    const full = path.join(dir, relative);
    const stat = fs.lstatSync(full);
    if (relative !== '' && !(options.skip?.(relative) ?? false)) {
      const content = stat.isFile() ? createHash('sha256').update(fs.readFileSync(full)).digest('hex').slice(0, 16) : '';
      const target = stat.isSymbolicLink() ? fs.readlinkSync(full) : '';
      const size = stat.isFile() ? stat.size : '';
      lines.push(`${relative} ${stat.mode.toString(8)} ${stat.uid}:${stat.gid} ${size} ${Math.floor(stat.mtimeMs / 1000)} ${target}${content}`);
    }
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(full).sort()) if (name !== 'lost+found') walk(relative === '' ? name : `${relative}/${name}`);
    }
  };
  walk('');
  return lines;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function run(argv: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

