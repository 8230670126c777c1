/**
 * systemd-nspawn: how to call it on this host, and the argv for running a command in an image.
 * nspawn registers the container with systemd-machined and moves itself into a scope unit over the
 * system bus; where systemd is not PID 1 (containers, CI runners) both fail ("Failed to open system
 * bus"). kiln detects that and adds --register=no --keep-unit itself; mkosi 14 needed
 * --nspawn-keep-unit from the user.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

export interface NspawnHost {
  /** systemd runs as PID 1 (sd_booted(): /run/systemd/system exists). */
  readonly systemdBooted: boolean;
  /** The D-Bus system bus socket exists. */
  readonly systemBus: boolean;
}

export function detectNspawnHost(root = '/'): NspawnHost {
  return {
    systemdBooted: existsSync(`${root}run/systemd/system`),
    systemBus: existsSync(`${root}run/dbus/system_bus_socket`),
  };
}

/**
 * Flags for every nspawn call kiln makes while building: never register a build container, and keep
 * the unit when there is no systemd to create a scope with (or when NspawnKeepUnit= asks for it).
 */
export function buildNspawnFlags(host: NspawnHost, keepUnit: boolean): string[] {
  const flags = ['--register=no'];
  if (keepUnit || !host.systemdBooted || !host.systemBus) flags.push('--keep-unit');
  return flags;
}

/** Flags for shell/boot: register with machined where it can be reached, so machinectl sees the machine. */
export function interactiveNspawnFlags(host: NspawnHost, keepUnit: boolean): string[] {
  if (host.systemdBooted && host.systemBus) return keepUnit ? ['--keep-unit'] : [];
  return ['--register=no', '--keep-unit'];
}

export interface Bind {
  readonly source: string;
  readonly target: string;
  readonly readOnly?: boolean;
}

export interface ContainerCommand {
  readonly root: string;
  readonly flags: readonly string[];
  readonly command: readonly string[];
  /**
   * Network access for build steps: the host's network and resolv.conf, or a private network
   * namespace. 'default' leaves nspawn's own choice (shell and boot).
   */
  readonly network: boolean | 'default';
  readonly binds?: readonly Bind[];
  /** Set inside the container; the caller passes the same record as systemd-nspawn's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly machine?: string;
  /** The host name inside, when it must not be the (random) machine name. */
  readonly hostname?: string;
  /** 'pipe' for scripts (output captured), 'interactive' for shells on a terminal. */
  readonly console?: 'pipe' | 'interactive' | 'passive';
  /** Run the command under a stub init (scripts) rather than booting (false with boot). */
  readonly asPid2?: boolean;
  readonly boot?: boolean;
  readonly ephemeral?: boolean;
  readonly extraArgs?: readonly string[];
}

export function machineName(prefix = 'kiln'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** The full systemd-nspawn argv. */
export function nspawnArgv(spec: ContainerCommand): string[] {
  const argv = ['systemd-nspawn', '--quiet', `--directory=${spec.root}`, `--machine=${spec.machine ?? machineName()}`];
  argv.push(...spec.flags);
  if (spec.hostname) argv.push(`--hostname=${spec.hostname}`);
  if (spec.boot) argv.push('--boot');
  else if (spec.asPid2 ?? true) argv.push('--as-pid2');
  argv.push('--link-journal=no');
  if (spec.ephemeral) argv.push('--ephemeral');
  if (spec.console) argv.push(`--console=${spec.console}`);
  if (spec.network !== 'default') {
    argv.push(spec.network ? '--resolv-conf=bind-host' : '--private-network');
    // systemctl enable and friends in scripts must not try to talk to a (missing) manager.
    argv.push('--setenv=SYSTEMD_OFFLINE=1');
  }
  for (const bind of spec.binds ?? []) {
    argv.push(`--${bind.readOnly ? 'bind-ro' : 'bind'}=${bind.source}:${bind.target}`);
  }
  // Names only: nspawn takes each value from its own environment (ContainerCommand.env, passed to
  // run()), so an Environment= value (a password, say) never shows in a process listing or log.
  for (const key of Object.keys(spec.env ?? {})) argv.push(`--setenv=${key}`);
  argv.push(...(spec.extraArgs ?? []));
  argv.push('--', ...spec.command);
  return argv;
}
