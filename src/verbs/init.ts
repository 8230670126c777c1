/**
 * `kiln init [DIR] [--preset NAME]`: writes a ready image directory to start from — the preset's
 * mkosi.default (with a header saying what is where), its trees, an mkosi.postinst with a worked
 * example, an example file in mkosi.extra/, mkosi.nspawn and a .gitignore for outputs and caches.
 * The result is a plain configuration that no longer depends on the preset: edit anything.
 *
 * Nothing that exists is overwritten: every name is checked first, the files are written into a
 * hidden staging directory and only then moved into place, so a failure leaves nothing half-written.
 */
import { constants, existsSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { UserError } from '../errors.js';
import { info } from '../log.js';
import { DEFAULT_PRESET, findPreset, type Preset } from '../presets.js';
import type { Verb } from './types.js';
import { KILN_VERSION } from '../version.js';

/** Names that would confuse or be overwritten; mkosi.conf would hide the new mkosi.default. */
const GUARDED = ['mkosi.conf', 'mkosi.default', 'mkosi.default.d', 'mkosi.conf.d', 'mkosi.postinst', 'mkosi.extra', 'mkosi.extra.tar', 'mkosi.skeleton', 'mkosi.skeleton.tar', 'mkosi.nspawn', '.gitignore'];

function header(preset: Preset): string {
  return `# An image definition written by \`kiln init --preset ${preset.name}\` (kiln ${KILN_VERSION}).
# It is an mkosi 14 configuration: \`kiln help\` lists every setting, \`kiln summary\` shows what each
# one resolves to here. Build with \`sudo kiln build\` in this directory; the image and its
# SHA256SUMS, manifest and .nspawn land next to this file (\`kiln clean\` removes them).
# Next to it: mkosi.postinst runs inside the image at the end of the build, everything in mkosi.extra/
# is copied into the image, and mkosi.nspawn goes beside the image for systemd-nspawn and machinectl.
# Below: the ${preset.name} preset, copied (the directory no longer depends on it).
#
`;
}

function postinst(name: string): string {
  return `#!/bin/sh
# mkosi.postinst: kiln runs this inside the image (a throwaway systemd-nspawn container) after the
# packages and mkosi.extra/ are in, with "final" as its only argument. It has no network unless
# WithNetwork=yes. set -e: a failing command stops the build, and kiln shows its last output.
set -e

# A worked example: a login banner naming the image and its distribution (from its os-release).
. /etc/os-release
printf '%s: %s, built with kiln\\n\\n' '${name}' "\${PRETTY_NAME:-Linux}" > /etc/issue

# Other things a postinst often does (uncomment and adapt):
# systemctl enable systemd-networkd.service        # start a unit at boot (systemctl works offline here)
# useradd --create-home --shell /bin/sh alice      # add a user…
# echo 'alice:change-me' | chpasswd                # …with a password
`;
}

function motd(name: string): string {
  return `Welcome to ${name}, an image built with kiln.
(This is mkosi.extra/etc/motd: every file under mkosi.extra/ is copied into the image at the same path.)
`;
}

const NSPAWN_SHARED_NETWORK = `# mkosi.nspawn: copied beside the image as image.nspawn (SHA256SUMS covers it). kiln boot reads it;
# machinectl reads /etc/systemd/nspawn/NAME.nspawn (machinectl pull-tar/pull-raw put it there, after
# import-tar copy it yourself). See systemd.nspawn(5).
[Network]
# Share the host's network: this image configures no network of its own. With systemd-networkd
# enabled in the image, VirtualEthernet=yes gives it a private link instead.
VirtualEthernet=no
`;

const GITIGNORE = `# kiln's outputs (with ImageId= or ImageVersion= the image is named after them instead)
/image
/image.*
/SHA256SUMS
/SHA256SUMS.gpg
# caches and work directories, if you create them
/mkosi.output/
/mkosi.cache/
/mkosi.builddir/
/mkosi.workspace/
/.kiln-build-*
# a root password is a secret
/mkosi.rootpw
`;

async function writeStaging(staging: string, preset: Preset, name: string): Promise<void> {
  await fs.writeFile(path.join(staging, 'mkosi.default'), header(preset) + (await fs.readFile(preset.configFile, 'utf8')), { mode: 0o644 });
  await fs.writeFile(path.join(staging, 'mkosi.postinst'), postinst(name), { mode: 0o755 });
  // The preset's own trees come along (as links, where it has links), then the example file.
  for (const tree of [...preset.skeletonTrees, ...preset.extraTrees]) {
    await fs.cp(tree, path.join(staging, path.basename(tree)), { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false });
  }
  await fs.mkdir(path.join(staging, 'mkosi.extra/etc'), { recursive: true });
  await fs.writeFile(path.join(staging, 'mkosi.extra/etc/motd'), motd(name), { mode: 0o644, flag: 'wx' });
  const presetNspawn = path.join(preset.directory, 'mkosi.nspawn');
  const nspawn = existsSync(presetNspawn) ? await fs.readFile(presetNspawn, 'utf8') : NSPAWN_SHARED_NETWORK;
  await fs.writeFile(path.join(staging, 'mkosi.nspawn'), nspawn, { mode: 0o644 });
  await fs.writeFile(path.join(staging, '.gitignore'), GITIGNORE, { mode: 0o644 });
}

async function prepareTarget(target: string, shown: string): Promise<void> {
  if (existsSync(target) && !statSync(target).isDirectory()) throw new UserError(`${shown} exists and is not a directory`);
  await fs.mkdir(target, { recursive: true });
  const present = GUARDED.filter((name) => existsSync(path.join(target, name)));
  if (present.length > 0) {
    throw new UserError(`${shown} already has ${present.join(', ')}; kiln init never overwrites files`, {
      hint: 'run it in a new or empty directory (kiln init DIR), or move those away first',
    });
  }
  await fs.access(target, constants.W_OK).catch(() => {
    throw new UserError(`${shown} is not writable`);
  });
}

export const init: Verb = {
  doc: 'Write a ready image directory to start from: init [DIR] [--preset NAME] (default preset: debian-minimal)',
  origin: 'kiln',
  takesArguments: true,
  async run(invocation) {
    const args = invocation.args.commandLine;
    if (args.length > 1) throw new UserError('kiln init takes one directory', { hint: 'kiln init [DIR] [--preset NAME]' });
    const target = args[0] === undefined ? invocation.directory : path.resolve(invocation.cwd, args[0]);
    const shown = target === invocation.cwd ? 'this directory' : invocation.display(target);
    const preset = findPreset(invocation.args.preset ?? DEFAULT_PRESET);
    await prepareTarget(target, shown);

    const staging = await fs.mkdtemp(path.join(target, '.kiln-init-'));
    try {
      await writeStaging(staging, preset, path.basename(target));
      const names = (await fs.readdir(staging)).sort();
      // Checked again right before the move: nothing may have appeared in the meantime.
      const appeared = names.filter((name) => existsSync(path.join(target, name)));
      if (appeared.length > 0) throw new UserError(`${shown} now has ${appeared.join(', ')}; kiln init never overwrites files`);
      for (const name of names) await fs.rename(path.join(staging, name), path.join(target, name));
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }

    // The written configuration must load: that is what `kiln build` does next.
    const { config } = loadConfig({ directory: target, commandLine: [], cwd: invocation.cwd });
    info(`wrote ${shown === 'this directory' ? 'mkosi.default' : `${shown}/mkosi.default`}, mkosi.postinst, mkosi.extra/, mkosi.nspawn and .gitignore from the ${preset.name} preset (${config.Distribution}, Format=${config.Format})`);
    if (config.Mirror === null && config.LocalMirror === null) {
      info(`  ${config.Distribution} needs a mirror: set Mirror= (or LocalMirror=) in [Distribution] of mkosi.default`);
    }
    info(`  next: ${target === invocation.cwd ? '' : `cd ${invocation.display(target)} && `}sudo kiln build`);
    return 0;
  },
};
