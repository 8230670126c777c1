/**
 * `kiln shell` and `kiln boot`: run a shell (or a command) in the built image, or boot it, with
 * systemd-nspawn — building it first if it does not exist yet, as mkosi 14 does.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { stripSuffixes } from '../artifacts/names.js';
import { checkRoot } from '../checks.js';
import { isDiskFormat, outputCompression } from '../config/derived.js';
import type { Config } from '../config/types.js';
import { UserError } from '../errors.js';
import { interactiveNspawnFlags, detectNspawnHost, nspawnArgv } from '../nspawn.js';
import { buildImage } from '../pipeline.js';
import { run } from '../run.js';
import type { Invocation, Verb } from './types.js';

function checkRunnable(config: Config, verb: string): void {
  const action = verb === 'shell' ? 'open a shell in' : 'boot';
  if (config.Format === 'tar' || config.Format === 'cpio') {
    throw new UserError(`cannot ${action} a ${config.Format} archive`, { hint: 'build with Format=directory or a disk format, or import the archive with machinectl' });
  }
  if (config.Format === 'lxc' || config.Format === 'incus') {
    throw new UserError(`cannot ${action} an ${config.Format === 'lxc' ? 'LXC' : 'Incus'} image with systemd-nspawn`, {
      hint: config.Format === 'lxc' ? 'create a container from it with lxc-create -t local (see the README)' : 'import it with incus image import',
    });
  }
  if (outputCompression(config) || config.QCow2) {
    throw new UserError(`cannot ${action} a compressed or qcow2 image`, { hint: 'build it without CompressOutput= and QCow2=' });
  }
}

async function runImage(invocation: Invocation, boot: boolean): Promise<number> {
  const verb = boot ? 'boot' : 'shell';
  checkRoot(verb);
  const loaded = invocation.config();
  const { config } = loaded;
  checkRunnable(config, verb);
  if (config.SkipFinalPhase) {
    throw new UserError(`SkipFinalPhase=yes builds no image to ${verb}`, { hint: 'SkipFinalPhase= is for kiln build only (as in mkosi 14)' });
  }
  if (!existsSync(config.Output) || config.Force > 0) {
    await buildImage(loaded, { display: invocation.display, debug: invocation.args.debug });
  }
  const disk = isDiskFormat(config.Format) || config.Format === 'plain_squashfs';
  const machine = config.ImageId ?? stripSuffixes(path.basename(config.Output));
  const extra = [disk ? `--image=${config.Output}` : ''];
  if (config.NSpawnSettings !== null) extra.push('--settings=trusted');
  if (config.SourceFileTransferFinal === 'mount' && config.BuildSources !== null) {
    // mkosi 14: the sources, live, at /root/src of the running image.
    extra.push(`--bind=${config.BuildSources}:/root/src`, '--chdir=/root/src');
  }
  // Netdev=yes: a veth link, which systemd-networkd in the image configures (80-container-host0.network).
  if (config.Netdev) extra.push('--network-veth');
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const argv = nspawnArgv({
    root: config.Output,
    flags: interactiveNspawnFlags(detectNspawnHost(), config.NspawnKeepUnit),
    command: invocation.args.commandLine,
    machine,
    network: 'default',
    boot,
    asPid2: false,
    ephemeral: config.Ephemeral,
    console: interactive ? 'interactive' : boot ? 'passive' : 'pipe',
    extraArgs: extra.filter(Boolean),
  });
  // --image= replaces --directory= for disk images.
  const final = disk ? argv.filter((arg) => !arg.startsWith('--directory=')) : argv;
  const result = await run(final, { stdio: 'inherit', okCodes: Array.from({ length: 256 }, (_, i) => i), what: `Running ${verb}` });
  return result.exitCode;
}

export const shell: Verb = {
  doc: 'Run a shell, or the given command, in the built image (systemd-nspawn)',
  origin: 'mkosi',
  takesCommandLine: true,
  run: (invocation) => runImage(invocation, false),
};

export const boot: Verb = {
  doc: 'Boot the built image in a container (systemd-nspawn --boot); arguments go to its init',
  origin: 'mkosi',
  takesCommandLine: true,
  run: (invocation) => runImage(invocation, true),
};
