/**
 * `kiln serve` and systemd-pull as `machinectl pull-tar --verify=signature` runs them: the pull side
 * of the serve and signing tests.
 */
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KILN, kilnOk, processesMentioning } from './kiln.js';
import { SYSTEMD_PULL } from './systemd.js';

export interface Server {
  readonly url: string;
  readonly pid: number;
  /** Everything kiln serve printed so far. */
  log(): string;
  /** "GET /image.nspawn 200" lines, as kiln serve logs them. */
  requests(): string[];
  stop(): Promise<number | null>;
}

/** Starts `kiln [options] serve 127.0.0.1:0` in a directory and waits for the line naming its port. */
export async function serve(directory: string, options: readonly string[] = []): Promise<Server> {
  const child: ChildProcessWithoutNullStreams = spawn(KILN, [...options, 'serve', '127.0.0.1:0'], { cwd: directory, stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      const match = /on http:\/\/127\.0\.0\.1:(\d+)\//.exec(log);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`kiln serve exited with ${code}: ${log}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    log: () => log,
    requests: () => log.split('\n').filter((line) => /^(GET|HEAD) /.test(line)),
    // 'close', not 'exit': only then has the whole log been read.
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return closed;
    },
  };
}

export interface Pull {
  readonly status: number | null;
  readonly output: string;
  /** The image root systemd-pull wrote into; remove with removePulled(). */
  readonly imageRoot: string;
}

/**
 * systemd-pull as `machinectl pull-tar --verify=signature` runs it, in a private mount namespace
 * where /etc/systemd is a copy of the host's with the test key as import-pubring.gpg (systemd-pull
 * reads only that file from there, and the copy keeps everything else as it was).
 */
export function pull(url: string, name: string, keyring: string): Promise<Pull> {
  const imageRoot = mkdtempSync(path.join(os.tmpdir(), 'kiln-pull-'));
  const etc = mkdtempSync(path.join(os.tmpdir(), 'kiln-pull-etc-'));
  execFileSync('cp', ['-a', '/etc/systemd/.', etc]);
  cpSync(keyring, path.join(etc, 'import-pubring.gpg'));
  const script = 'mount --bind "$1" /etc/systemd && shift && exec "$@"';
  const argv = ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', etc, SYSTEMD_PULL, 'tar', '--verify=signature', `--image-root=${imageRoot}`, url, name];
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (status) => {
      rmSync(etc, { recursive: true, force: true });
      resolve({ status, output, imageRoot });
    });
  });
}

/** The pulled tree is immutable (chattr +i), as systemd-import leaves it. */
export function removePulled(imageRoot: string): void {
  spawnSync('chattr', ['-R', '-i', imageRoot], { stdio: 'ignore' });
  rmSync(imageRoot, { recursive: true, force: true });
}

/** Images systemd-pull created (not its hidden download leftovers). */
export function pulledImages(imageRoot: string): string[] {
  return readdirSync(imageRoot).filter((name) => !name.startsWith('.'));
}

/** The names of the files systemd-pull fetched (200 answers), from kiln serve's log. */
export function fetchedFiles(server: Server): string[] {
  return server
    .requests()
    .filter((line) => line.endsWith(' 200'))
    .map((line) => line.split(' ')[1]!.slice(1))
    .sort();
}

export function gpg(home: string, args: readonly string[]): Buffer {
  return execFileSync('gpg', ['--batch', '--no-tty', ...args], { env: { ...process.env, GNUPGHOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A new signing key made by `kiln genkey` in `home`; its fingerprint and the binary public keyring systemd-pull wants. */
export async function makeSigningKey(home: string, userId: string): Promise<{ fingerprint: string; keyring: string }> {
  const fingerprint = (await kilnOk(['genkey', userId], { env: { GNUPGHOME: home } })).stdout.trim();
  const keyring = path.join(home, 'pub.gpg');
  writeFileSync(keyring, gpg(home, ['--export', fingerprint]));
  return { fingerprint, keyring };
}

/** Stops the gpg-agent of `home` and removes it; returns the processes still mentioning it (none, if all went well). */
export async function removeGnupgHome(home: string): Promise<string[]> {
  spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home } });
  // gpgconf asks the agent to stop and returns; the agent exits a moment later (seconds, on a busy machine).
  for (let waited = 0; processesMentioning(home).length > 0 && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  rmSync(home, { recursive: true, force: true });
  return processesMentioning(home);
}
