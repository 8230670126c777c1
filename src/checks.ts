/**
 * Everything a build needs is checked before the first side effect, and all problems are reported
 * at once: configuration kiln cannot build, missing host tools (with their Debian packages), an
 * existing output without --force, an output directory kiln cannot write to.
 */
import { constants, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { producedFiles } from './artifacts/names.js';
import { checkSigning } from './artifacts/sign.js';
import { bootProblems, bootTools, secureBootProblems } from './boot/index.js';
import { sshKeyProblems } from './vm/ssh-key.js';
import { outputCompression } from './config/derived.js';
import type { Loaded } from './config/load.js';
import type { Config } from './config/types.js';
import { findProblems } from './config/validate.js';
import { getDistribution } from './distributions/index.js';
import { ConfigError, ConfigErrors, UserError, type KilnError } from './errors.js';
import { installHint, locateTool } from './host-tools.js';
import { warn } from './log.js';
import { probeMirror } from './mirror-probe.js';
import { run } from './run.js';
import { trustProblems } from './outputs/disk-trust.js';
import { baseImageProblems } from './stages/base-image.js';
import { OUTPUTS } from './outputs/index.js';
import { getPackageManager } from './package-managers/index.js';

const COMPRESSORS: Readonly<Record<string, string>> = { xz: 'xz', zstd: 'zstd', gz: 'gzip' };

/** Host programs this build will run. */
export function requiredTools(config: Config): string[] {
  const distribution = getDistribution(config.Distribution);
  const tools = [...getPackageManager(distribution.packageManager).requiredTools(config)];
  const format = OUTPUTS[config.Format];
  if (format) tools.push(...format.requiredTools(config));
  const compression = outputCompression(config);
  if (compression) tools.push(COMPRESSORS[compression]!);
  if (config.PrepareScript || config.PostInstallationScript || config.BuildScript || config.RemovePackages.length > 0) tools.push('systemd-nspawn');
  if (gitModes(config).length > 0) tools.push('git');
  if (config.Sign) tools.push('gpg');
  tools.push(...bootTools(config));
  if (config.BaseImage !== null) tools.push('mount', 'umount', 'getfattr', 'setfattr');
  if (config.Ssh || config.Netdev) tools.push('systemctl');
  if (config.Ssh && config.SshAgent !== null) tools.push('ssh-add');
  else if (config.Ssh && config.SshKey === null) tools.push('ssh-keygen');
  return [...new Set(tools)];
}

/** The SourceFileTransfer= settings of this build that list the sources with git. */
function gitModes(config: Config): ('SourceFileTransfer' | 'SourceFileTransferFinal')[] {
  const names: ('SourceFileTransfer' | 'SourceFileTransferFinal')[] = [];
  if (config.BuildScript !== null && config.SourceFileTransfer?.startsWith('copy-git-')) names.push('SourceFileTransfer');
  if (config.SourceFileTransferFinal?.startsWith('copy-git-')) names.push('SourceFileTransferFinal');
  return names;
}

/** The copy-git-* modes need BuildSources= inside a git work tree; found out before anything is built. */
async function checkGitSources(config: Config, display: (file: string) => string): Promise<UserError | undefined> {
  const names = gitModes(config);
  if (names.length === 0 || config.BuildSources === null || !locateTool('git', config.ExtraSearchPaths)) return undefined;
  const result = await run(['git', '-c', 'safe.directory=*', '-C', config.BuildSources, 'rev-parse', '--is-inside-work-tree'], {
    stdio: 'pipe',
    read: true,
    okCodes: [128],
  }).catch(() => undefined);
  if (result?.exitCode === 0 && result.stdout.trim() === 'true') return undefined;
  const setting = names.map((name) => `${name}=${config[name]}`).join(' and ');
  return new UserError(`${setting} needs a git work tree, but BuildSources=${display(config.BuildSources)} is not in one`, {
    hint: 'use SourceFileTransfer=copy-all (or mount), or git init the sources',
  });
}

export function checkRoot(verb: string): void {
  if (process.getuid?.() !== 0) {
    throw new UserError(`kiln ${verb} must run as root (it runs debootstrap, systemd-nspawn and mkfs)`, {
      hint: `run it with sudo: sudo kiln ${verb}`,
    });
  }
}

/** Asks the configured repository for one small file, so a wrong mirror or release fails at once. */
export async function probeRepository(config: Config): Promise<void> {
  const probe = getDistribution(config.Distribution).probe?.(config);
  if (probe) await probeMirror(probe.url, `${probe.setting}=`);
}

/** Checks made before a build; throws one error listing every problem found. */
export async function checkBuild(loaded: Loaded, display: (file: string) => string): Promise<void> {
  const { config } = loaded;
  const problems = findProblems(config, loaded.context, display);
  const errors: KilnError[] = [...problems.unsupported, ...problems.errors];
  const originOf = (name: 'Bootable' | 'SshKey' | 'SshAgent') => loaded.context.originOf(name) ?? { file: display(loaded.directory) };
  for (const problem of bootProblems(config)) errors.push(new ConfigError(originOf('Bootable'), problem));
  for (const problem of await sshKeyProblems(config)) errors.push(new ConfigError(originOf(config.SshAgent !== null ? 'SshAgent' : 'SshKey'), problem));
  if (errors.length > 0) throw new ConfigErrors(errors);
  if (config.QemuHeadless && !config.Bootable) warn('QemuHeadless=yes means little without Bootable=yes: only kiln qemu boots with a serial console, and it needs a bootable image');
  if (config.Ssh && !config.Netdev && config.Bootable) warn('Ssh=yes without Netdev=yes: the image configures no network of its own, so kiln ssh only reaches it if your trees set one up');

  if (config.BuildScript === null) {
    // mkosi 14 ignores them silently; a user who set them expects a development image.
    if (config.BuildPackages.length > 0) warn('BuildPackages= has no effect: there is no build script (BuildScript=, or an executable mkosi.build)');
    if (config.SkipFinalPhase) warn('SkipFinalPhase=yes without a build script builds nothing');
  }

  if (config.Checksum && config.Format === 'directory' && config.NSpawnSettings === null) {
    // mkosi 14 lists no directory in SHA256SUMS; with no .nspawn either there is nothing to sum or sign.
    warn(`${config.Sign ? 'Sign=' : 'Checksum='} has nothing to cover: Format=directory outputs are not listed in SHA256SUMS`);
  }

  const distribution = getDistribution(config.Distribution);
  if (config.Mirror === null && config.LocalMirror === null && !distribution.mirrorLists) {
    errors.push(new UserError(`no mirror for ${config.Distribution}`, { hint: distribution.mirrorHint }));
  } else {
    // An incremental build that finds its root in the cache needs no mirror at all (offline rebuilds);
    // it asks the mirror only when it has to install something (cache/incremental.ts).
    if (!config.Incremental) await probeRepository(config).catch((error: unknown) => errors.push(error as KilnError));
  }

  const keyring = distribution.keyring;
  if (keyring && config.RepositoryKeyCheck && config.LocalMirror === null && !existsSync(keyring.file)) {
    errors.push(new UserError(`${config.Distribution}'s archive keyring ${keyring.file} is not installed`, {
      hint: keyring.hint,
    }));
  }

  const missing = requiredTools(config).filter((tool) => !locateTool(tool, config.ExtraSearchPaths));
  if (missing.length > 0) {
    errors.push(new UserError(`missing host tools: ${missing.join(', ')}`, { hint: installHint(missing) }));
  }

  const gitProblem = missing.includes('git') ? undefined : await checkGitSources(config, display);
  if (gitProblem) errors.push(gitProblem);

  // SkipFinalPhase= writes no output, so an existing one is neither in the way nor replaced (mkosi 14).
  if (config.Force === 0 && !config.SkipFinalPhase) {
    const existing: string[] = [];
    for (const file of producedFiles(config)) {
      if (await fs.lstat(file).catch(() => undefined)) existing.push(display(file));
    }
    if (existing.length > 0) {
      errors.push(new UserError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}`, {
        hint: 'use -f (--force) to replace the outputs',
      }));
    }
  }

  // A key that is missing or locked would otherwise fail the build at its very last step.
  const signingProblem = missing.includes('gpg') ? undefined : await checkSigning(config);
  if (signingProblem) errors.push(signingProblem);

  const outputDirectory = path.dirname(config.Output);
  const writableProblem = await checkWritable(outputDirectory, config.OutputDirectory !== null);
  if (writableProblem) errors.push(new UserError(`${display(outputDirectory)}: ${writableProblem}`));

  for (const problem of await trustProblems(config, loaded.directory)) errors.push(new UserError(problem));
  for (const problem of await secureBootProblems(config, warn)) errors.push(new UserError(problem));
  for (const problem of baseImageProblems(config)) errors.push(new ConfigError(loaded.context.originOf('BaseImage') ?? { file: display(loaded.directory) }, problem));
  if (config.BaseImage !== null && config.Incremental) warn('Incremental= has no effect with BaseImage=: the changes to a base image are not cached');

  const format = OUTPUTS[config.Format];
  if (format?.check && !writableProblem) {
    try {
      await format.check(config, outputDirectory);
    } catch (error) {
      if (error instanceof UserError) errors.push(error);
      else throw error;
    }
  }

  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new ConfigErrors(errors);
}

/** The output directory must exist (OutputDirectory= is created, as mkosi 14 does) and be writable. */
async function checkWritable(directory: string, create: boolean): Promise<string | undefined> {
  if (create) await fs.mkdir(directory, { recursive: true });
  try {
    const stat = await fs.stat(directory);
    if (!stat.isDirectory()) return 'the output directory is not a directory';
    await fs.access(directory, constants.W_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'the output directory does not exist';
    if (code === 'EACCES' || code === 'EROFS') return `the output directory is not writable (${code})`;
    throw error;
  }
}
