/**
 * Booting a built image in a container and talking to its systemd, as ENVIRONMENT.md's recipe does
 * where systemd is not PID 1: systemd-nspawn -b --register=no --keep-unit in the background, the
 * container's init found as nspawn's child, commands run in its namespaces with nsenter, and
 * `systemctl poweroff` to stop it. Everything is asynchronous: a boot takes seconds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface BootedContainer {
  readonly machine: string;
  readonly nspawnPid: number;
  readonly initPid: number;
  /** What systemctl is-system-running answered once the boot finished: running or degraded. */
  readonly state: string;
  /** Runs a command inside the container; returns its status and output. */
  exec(argv: readonly string[]): { status: number | null; stdout: string; stderr: string };
  /** systemctl poweroff, then waits for nspawn to end; returns its exit code. */
  poweroff(): Promise<number | null>;
  /** The console and nspawn's own messages so far (for failure messages). */
  output(): string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

export interface BootOptions {
  /** --network-veth: a link of its own (the host side stays down unless the test raises it). */
  readonly veth?: boolean;
  /** How long systemd may take to finish booting. */
  readonly timeoutMs?: number;
}

/** Boots `root` and waits until systemd says the boot is over (running, degraded, or a failure). */
export async function bootContainer(root: string, options: BootOptions = {}): Promise<BootedContainer> {
  const machine = `kt-${randomBytes(3).toString('hex')}`;
  const argv = ['-q', '-b', '-D', root, '--register=no', '--keep-unit', '--console=passive', `--machine=${machine}`];
  if (options.veth) argv.push('--network-veth');
  const child = spawn('systemd-nspawn', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const ended = exited(child);

  const exec = (initPid: number, command: readonly string[]): { status: number | null; stdout: string; stderr: string } => {
    const result = spawnSync('nsenter', ['-t', String(initPid), '-a', ...command], { encoding: 'utf8', timeout: 30_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  let initPid: number | undefined;
  let state = '';
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`systemd-nspawn ended early (${child.exitCode ?? child.signalCode}):\n${output}`);
      // nspawn's first child may be its short-lived outer child; init is the one that is systemd.
      initPid ??= childrenOf(child.pid!).find((pid) => commandOf(pid) === 'systemd');
      if (initPid !== undefined) {
        // `starting` and `initializing` mean the boot is still going; anything else is an answer.
        state = exec(initPid, ['systemctl', 'is-system-running']).stdout.trim();
        if (state !== '' && state !== 'starting' && state !== 'initializing' && !state.includes('Failed to connect')) break;
      }
      await sleep(500);
    }
    if (initPid === undefined || state === '' || state === 'starting' || state === 'initializing') {
      throw new Error(`the container did not finish booting (${state || 'no answer'}):\n${output}`);
    }
  } catch (error) {
    child.kill('SIGKILL');
    await ended;
    throw error;
  }

  const pid = initPid;
  return {
    machine,
    nspawnPid: child.pid!,
    initPid: pid,
    state,
    exec: (command) => exec(pid, command),
    output: () => output,
    async poweroff() {
      exec(pid, ['systemctl', 'poweroff']);
      const code = await Promise.race([ended, sleep(60_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        await ended;
        throw new Error(`the container did not power off within 60 s:\n${output}`);
      }
      return code;
    },
  };
}

/** Units systemd lists as failed, one name each. */
export function failedUnits(container: BootedContainer): string[] {
  return container
    .exec(['systemctl', 'list-units', '--failed', '--plain', '--no-legend', '--no-pager'])
    .stdout.split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** Network links of the host whose name mentions the machine (nspawn's ve-<machine>). */
export function hostLinksOf(machine: string): string[] {
  const result = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  return result.stdout.split('\n').filter((line) => line.includes(`ve-${machine}`));
}
