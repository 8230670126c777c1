/**
 * `kiln qemu`: boots the built disk in a virtual machine, building it first if it does not exist yet
 * (as mkosi 14 does). UEFI firmware with a fresh copy of its variable store per run, or the image's
 * own kernel and initrd with QemuBoot=linux; KVM where it can run the firmware, else TCG; Ephemeral=yes
 * boots a throwaway copy; QemuArgs= and the arguments after `--` go to qemu last.
 */
import { constants, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { extractBootFiles } from '../boot/extract.js';
import { isDiskFormat, outputCompression } from '../config/derived.js';
import type { Config } from '../config/types.js';
import { UserError } from '../errors.js';
import { locateTool } from '../host-tools.js';
import { info, warn } from '../log.js';
import { buildImage } from '../pipeline.js';
import { qemuArgv, qemuBinaries, type QemuBoot, type QemuFirmware } from '../qemu.js';
import { run } from '../run.js';
import { throwIfInterrupted } from '../signals.js';
import { boundToKiln } from '../vm/bound.js';
import { requireFirmware } from '../vm/firmware.js';
import { chooseAccelerator, probeKvm } from '../vm/kvm.js';
import { chooseNetwork } from '../vm/network.js';
import { registerVm } from '../vm/registry.js';
import { createScratchDirectory, removeAbandoned } from '../workspace.js';
import type { Invocation, Verb } from './types.js';

/** mkosi 14's refusals, each with what to change. */
export function checkQemuConfig(config: Config): void {
  if (!isDiskFormat(config.Format)) {
    throw new UserError(`cannot boot a Format=${config.Format} image with qemu`, { hint: 'qemu boots disks: Format=gpt_ext4 (or gpt_btrfs, gpt_xfs, gpt_squashfs) with Bootable=yes' });
  }
  if (!config.Bootable) throw new UserError('an image built without Bootable=yes cannot boot in qemu', { hint: 'set Bootable=yes and build again (kiln -f qemu builds first)' });
  if (outputCompression(config)) throw new UserError('cannot boot a compressed image with qemu', { hint: 'build it without CompressOutput=' });
  if (config.QemuBoot === 'linux' && config.QCow2) {
    throw new UserError('QemuBoot=linux reads the kernel out of the image, which kiln can do in a raw image only', { hint: 'set QCow2=no, or QemuBoot=uefi' });
  }
}

function findQemu(config: Config): string {
  const binary = qemuBinaries(config.Architecture).find((name) => locateTool(name, config.ExtraSearchPaths));
  if (binary) return binary;
  const package_ = config.Architecture === 'x86_64' || config.Architecture.startsWith('i') ? 'qemu-system-x86' : 'qemu-system';
  throw new UserError(`qemu for ${config.Architecture} is not installed`, { hint: `install it with: apt-get install ${package_}` });
}

/** A private copy of the firmware's variable store for this run. */
async function firmwareForRun(config: Config, work: string): Promise<QemuFirmware> {
  const found = requireFirmware(config.Architecture);
  if (found.vars === undefined) return { code: found.code, secureBoot: found.secureBoot };
  const vars = path.join(work, 'OVMF_VARS.fd');
  await fs.copyFile(found.vars, vars);
  await fs.chmod(vars, 0o600);
  return { code: found.code, secureBoot: found.secureBoot, vars };
}

/** Temporary files of a run, named by their owner: a kiln killed with SIGKILL cannot remove its own. */
const WORK_PREFIX = 'kiln-qemu-';
const EPHEMERAL_PREFIX = '.kiln-ephemeral-';

/**
 * Ephemeral=yes: a reflinked (or sparse) copy beside the image, in a directory of its own that goes
 * when qemu ends — or with the next kiln qemu beside it, if this one is killed.
 */
async function ephemeralCopy(image: string, undo: (() => Promise<void>)[]): Promise<string> {
  await removeAbandoned(path.dirname(image), EPHEMERAL_PREFIX, 'the Ephemeral= copy of a kiln qemu');
  const dir = await createScratchDirectory(path.dirname(image), EPHEMERAL_PREFIX);
  undo.push(async () => fs.rm(dir, { recursive: true, force: true }));
  const copy = path.join(dir, path.basename(image));
  await run(['cp', '--reflink=auto', '--sparse=always', image, copy], { what: 'Copying the image for Ephemeral=yes' });
  return copy;
}

async function runQemu(invocation: Invocation): Promise<number> {
  const loaded = invocation.config();
  const { config } = loaded;
  checkQemuConfig(config);
  if (!existsSync(config.Output) || config.Force > 0) await buildImage(loaded, { display: invocation.display, debug: invocation.args.debug });
  await fs.access(config.Output, constants.R_OK);
  const binary = findQemu(config);
  await removeAbandoned(os.tmpdir(), WORK_PREFIX, 'the files of a kiln qemu');
  const work = await createScratchDirectory(os.tmpdir(), WORK_PREFIX);
  const undo: (() => Promise<void>)[] = [async () => fs.rm(work, { recursive: true, force: true })];
  try {
    const firmware = config.QemuBoot === 'uefi' ? await firmwareForRun(config, work) : undefined;
    const probeFirmware = firmware ?? (await firmwareForRun(config, work).catch(() => undefined));
    const choice = await chooseAccelerator({ value: config.QemuKvm, explicit: loaded.context.isSet('QemuKvm') }, async () =>
      probeFirmware ? probeKvm(binary, config.Architecture, probeFirmware) : { works: true, why: '' },
    );
    if (choice.note) info(choice.note);

    let image = config.Output;
    if (config.Ephemeral) image = await ephemeralCopy(config.Output, undo);
    let boot: QemuBoot;
    if (firmware) boot = { type: 'uefi', firmware };
    else {
      const files = await extractBootFiles(image, config.Architecture, work, config.ExtraSearchPaths);
      boot = { type: 'linux', kernel: files.kernel, initrd: files.initrd, append: files.commandLine };
    }
    const network = await chooseNetwork(config);
    if (network.ssh) {
      const remove = await registerVm({ pid: process.pid, image: config.Output, ssh: network.ssh }).catch((error: unknown) => {
        warn(`kiln ssh will not find this machine: ${error instanceof Error ? error.message : String(error)}`);
        return async () => undefined;
      });
      undo.push(remove);
    }
    const argv = qemuArgv({
      binary,
      architecture: config.Architecture,
      accelerator: choice.accelerator,
      smp: config.QemuSmp,
      memory: config.QemuMem,
      headless: config.QemuHeadless,
      boot,
      network: network.network,
      // Debian's initrd did not find its root on virtio-scsi (mkosi issue #725), so Debian gets virtio-blk.
      disk: { file: image, format: config.QCow2 ? 'qcow2' : 'raw', bus: config.Distribution === 'debian' ? 'virtio' : 'scsi' },
      extraArgs: [...config.QemuArgs, ...invocation.args.commandLine],
    });
    const result = await run(boundToKiln(argv, config.ExtraSearchPaths), { stdio: 'inherit', okCodes: Array.from({ length: 256 }, (_, i) => i), what: 'Running qemu', searchPaths: config.ExtraSearchPaths });
    throwIfInterrupted();
    return result.exitCode;
  } finally {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  }
}

export const qemu: Verb = {
  doc: 'Boot the image in a virtual machine (qemu: UEFI, or its kernel directly with QemuBoot=linux); arguments after -- go to qemu',
  origin: 'mkosi',
  takesCommandLine: true,
  run: runQemu,
};
