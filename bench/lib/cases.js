/**
 * The benchmark's cases (issue 6). Each case builds with every selected tool, `runs` times, and
 * checks what the image must contain — a time without the right content counts for nothing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { espKernelImages, hasPackage, outputPath, readImageFile, runInImage } from './image.js';
import { ADDED_PACKAGES, ALL_IMAGES, makeAllProject, mmdebstrapArgv, qemuArgv, SEED_PACKAGES } from './tools.js';

const MARKER = '/etc/kiln-bench/marker';

/**
 * A cold build: warm package cache, no incremental cache; the image must hold the seed's content.
 * `skip` names tools left out of this case, with the reason shown in the row.
 */
function coldCase(id, title, format, skip = {}) {
  return {
    id,
    title,
    target: { ratio: 0.6 },
    async run(bench) {
      const row = bench.row(id, title, this.target);
      const skipped = bench.tools.filter((tool) => skip[tool]);
      if (skipped.length) row.note = skipped.map((tool) => `${tool} not run: ${skip[tool]}`).join('; ');
      for (let run = 1; run <= bench.runs; run++) {
        for (const tool of bench.tools.filter((t) => !skip[t])) {
          const project = await bench.project(tool, id, format);
          if (!(await bench.build(tool, project, `${id}-${run}`, { row }))) continue;
          const image = outputPath(project.dir, format);
          const installed = await hasPackage(image, format, SEED_PACKAGES[0]);
          const marker = await readImageFile(image, format, MARKER);
          bench.check(row, tool, installed && marker === 'seed\n', `${SEED_PACKAGES[0]} ${installed ? 'installed' : 'MISSING'}, mkosi.extra marker ${marker === 'seed\n' ? 'present' : 'MISSING'}`);
        }
      }
    },
  };
}

/**
 * images/debian-minimal, the README's default image, as it is (skeleton, extra, postinst, tar.xz,
 * SHA256SUMS): issue 3 asks for its build time beside mkosi 14's. Its one package, less, is among
 * the warmed ones.
 */
const debianMinimal = {
  id: 'images-debian-minimal',
  title: 'cold: images/debian-minimal as it is (tar.xz, skeleton, extra, postinst, checksum)',
  target: null,
  async run(bench) {
    const row = bench.row(this.id, this.title, this.target);
    for (let run = 1; run <= bench.runs; run++) {
      for (const tool of bench.tools) {
        const project = await bench.imageProject(tool, 'debian-minimal');
        if (!(await bench.build(tool, project, `${this.id}-${run}`, { row }))) continue;
        const image = outputPath(project.dir, 'tar');
        const installed = await hasPackage(image, 'tar', 'less');
        const issue = await readImageFile(image, 'tar', '/etc/issue');
        const motd = await readImageFile(image, 'tar', '/etc/motd');
        const postinst = Boolean(issue?.includes('built by kiln'));
        bench.check(row, tool, installed && postinst && motd !== null, `less ${installed ? 'installed' : 'MISSING'}, postinst's /etc/issue ${postinst ? 'present' : 'MISSING'}, mkosi.extra's /etc/motd ${motd !== null ? 'present' : 'MISSING'}`);
      }
    }
  },
};

/** The gpt_ext4 project both iterate cases share: built once with --incremental to fill the cache. */
const firstRow = (bench) => bench.row('iterate-first', 'first --incremental build, gpt_ext4 (fills the cache; not compared)', null);

async function iterateProject(bench, tool) {
  const project = await bench.project(tool, 'iterate', 'gpt_ext4');
  if (!project.warmed) {
    project.warmed = true;
    const row = firstRow(bench);
    project.usable = Boolean(await bench.build(tool, project, 'iterate-first', { incremental: true, row }));
  }
  return project.usable ? project : null;
}

const iterateExtra = {
  id: 'iterate-extra',
  title: 'iterate: mkosi.extra edit, gpt_ext4, --incremental',
  target: { ratio: 0.3 },
  async run(bench) {
    firstRow(bench);
    const row = bench.row(this.id, this.title, this.target);
    for (let run = 1; run <= bench.runs; run++) {
      for (const tool of bench.tools) {
        const project = await iterateProject(bench, tool);
        if (!project) continue;
        const content = `edited ${run} ${randomBytes(6).toString('hex')}\n`;
        project.editExtra(content);
        if (!(await bench.build(tool, project, `${this.id}-${run}`, { incremental: true, row }))) continue;
        const found = await readImageFile(outputPath(project.dir, 'gpt_ext4'), 'gpt_ext4', MARKER);
        bench.check(row, tool, found === content, `edited ${MARKER} ${found === content ? 'has the new content' : `has ${JSON.stringify(found)}`}`);
      }
    }
  },
};

const iteratePackage = {
  id: 'iterate-package',
  title: 'iterate: package added to Packages=, gpt_ext4, --incremental',
  target: { content: true },
  async run(bench) {
    firstRow(bench);
    const row = bench.row(this.id, this.title, this.target);
    if (bench.runs > ADDED_PACKAGES.length) row.note = `only ${ADDED_PACKAGES.length} distinct packages to add; later runs repeat one`;
    for (let run = 1; run <= bench.runs; run++) {
      const added = ADDED_PACKAGES[(run - 1) % ADDED_PACKAGES.length];
      for (const tool of bench.tools) {
        const project = await iterateProject(bench, tool);
        if (!project) continue;
        project.configure({ packages: [...SEED_PACKAGES, added] });
        if (!(await bench.build(tool, project, `${this.id}-${run}`, { incremental: true, row }))) continue;
        const installed = await hasPackage(outputPath(project.dir, 'gpt_ext4'), 'gpt_ext4', added);
        bench.check(row, tool, installed, `added package ${added} ${installed ? 'is installed in the image' : 'is NOT in the image'}`);
      }
    }
  },
};

/**
 * Issue 14: images/build-from-source, a C program that mkosi.build compiles with make in a
 * development image, as a git repository (so both tools copy the sources with copy-git-others),
 * with --incremental and its BuildDirectory=. The image must run the program and say what the source
 * says; after a one-file edit, only that file may be recompiled.
 */
const BUILD_IMAGE = 'build-from-source';
const GREETING = 'src/greeting.c';
const FIRST_GREETING = 'Hello, bench, from a program built by a kiln build script.\n';

async function greeting(project) {
  return runInImage(path.join(project.dir, 'image'), ['/usr/bin/hello-kiln', 'bench']);
}

/** Which objects the build script's make compiled, from the build's log. */
async function compiled(log) {
  const text = await fs.readFile(log, 'utf8');
  return [...text.matchAll(/-c -o \S*\/(\w+)\.o /g)].map((match) => match[1]);
}

const firstBuildRow = (bench) =>
  bench.row('build-first', 'build script, first build: images/build-from-source, --incremental, BuildDirectory=', null);

/** Each tool's project of the iterate case: the first build-first project, or one built untimed now. */
async function buildIterateProject(bench, tool) {
  bench.buildProjects ??= new Map();
  if (!bench.buildProjects.has(tool)) {
    const project = await bench.freshImageProject(tool, BUILD_IMAGE, 'iterate');
    project.commitAll();
    const ok = await bench.build(tool, project, 'build-first-untimed', { incremental: true, row: firstBuildRow(bench) });
    bench.buildProjects.set(tool, ok ? project : null);
  }
  return bench.buildProjects.get(tool);
}

const buildFirst = {
  id: 'build-first',
  title: 'build script, first build',
  target: null,
  async run(bench) {
    const row = firstBuildRow(bench);
    bench.buildProjects ??= new Map();
    for (let run = 1; run <= bench.runs; run++) {
      for (const tool of bench.tools) {
        const project = await bench.freshImageProject(tool, BUILD_IMAGE, `first-${run}`);
        project.commitAll();
        if (!(await bench.build(tool, project, `${this.id}-${run}`, { incremental: true, row }))) continue;
        if (!bench.buildProjects.has(tool)) bench.buildProjects.set(tool, project);
        const said = await greeting(project);
        const compiler = existsSync(path.join(project.dir, 'image/usr/bin/gcc'));
        bench.check(row, tool, said === FIRST_GREETING && !compiler, `the image says ${JSON.stringify(said)}; gcc ${compiler ? 'IS in the image' : 'not in the image'}`);
      }
    }
  },
};

const buildIterate = {
  id: 'build-iterate',
  title: 'build script, rebuild after editing one .c file, --incremental, BuildDirectory=',
  target: { ratio: 0.3 },
  async run(bench) {
    const row = bench.row(this.id, this.title, this.target);
    for (let run = 1; run <= bench.runs; run++) {
      for (const tool of bench.tools) {
        const project = await buildIterateProject(bench, tool);
        if (!project) continue;
        const text = `edited ${run} ${randomBytes(4).toString('hex')}`;
        const source = await fs.readFile(path.join(project.dir, GREETING), 'utf8');
        project.writeFile(GREETING, source.replace(/printf\("Hello, %s, [^"]*\\n"/, `printf("Hello, %s, ${text}.\\n"`));
        const result = await bench.build(tool, project, `${this.id}-${run}`, { incremental: true, row });
        if (!result) continue;
        const said = await greeting(project);
        const objects = await compiled(result.log);
        const expected = `Hello, bench, ${text}.\n`;
        const onlyGreeting = objects.length === 1 && objects[0] === 'greeting';
        bench.check(row, tool, said === expected && onlyGreeting, `the image says ${JSON.stringify(said)}; make compiled ${objects.join(', ') || 'nothing'}`);
      }
    }
  },
};

/**
 * Issue 19: `--all` over three Debian images (directory, tar, gpt_ext4) in mkosi.files/. kiln builds
 * them side by side; it is compared with mkosi 14's --all (one after the other) and with kiln
 * building them one after the other as three builds (`--all --image NAME` each: what a user without
 * --all runs, every image bootstrapping its own root).
 */
const allThree = {
  id: 'all-three',
  title: '--all: three Debian images in mkosi.files/ (directory, tar, gpt_ext4), against mkosi 14 --all',
  target: { ratio: 0.4 },
  async run(bench) {
    const row = bench.row(this.id, this.title, this.target);
    const sequential = bench.row('all-three-sequential', '--all: the same, against kiln building the three one after another (three builds, in the mkosi 14 column)', { ratio: 0.7 });
    sequential.baseline = 'kiln one after another';
    const builds = [
      { tool: 'kiln', row, extra: ['--all'], as: 'kiln' },
      { tool: 'kiln', row: sequential, extra: ['--all'], as: 'kiln one after another', oneByOne: true },
      { tool: 'mkosi', row, extra: ['--all'], as: 'mkosi' },
    ].filter((build) => bench.tools.includes(build.tool));
    for (let run = 1; run <= bench.runs; run++) {
      for (const build of builds) {
        const project = await bench.project(build.tool, 'all-three', 'directory');
        if (!project.allFiles) {
          await makeAllProject(project);
          project.allFiles = true;
        }
        const label = `${this.id}${build.oneByOne ? '-one-by-one' : ''}-${run}`;
        if (build.oneByOne) {
          if (!(await buildOneByOne(bench, project, label, build))) continue;
        } else if (!(await bench.build(build.tool, project, label, { row: build.row, extra: build.extra, as: build.as }))) continue;
        if (build.as === 'kiln') bench.sample(sequential, 'kiln').seconds.push(...bench.sample(row, 'kiln').seconds.slice(-1));
        const found = [];
        for (const image of ALL_IMAGES) {
          const output = path.join(project.dir, image.output);
          const installed = await hasPackage(output, image.format, SEED_PACKAGES[0]);
          const marker = await readImageFile(output, image.format, MARKER);
          found.push(`${image.id}: ${installed && marker === 'seed\n' ? 'ok' : 'MISSING content'}`);
        }
        const ok = found.every((text) => text.endsWith(': ok'));
        bench.check(build.row, build.as, ok, found.join(', '));
        if (build.as === 'kiln') bench.check(sequential, 'kiln', ok, found.join(', '));
      }
    }
  },
};

/** The images of the --all project built in turn, one process each; their times add up to one sample. */
async function buildOneByOne(bench, project, label, build) {
  let seconds = 0;
  for (const image of ALL_IMAGES) {
    const result = await bench.build(build.tool, project, `${label}-${image.id}`, { extra: [...build.extra, '--image', image.id] });
    if (!result) {
      bench.sample(build.row, build.as).failed = `the build of ${image.id} failed, see the log above`;
      return false;
    }
    seconds += result.seconds;
  }
  bench.sample(build.row, build.as).seconds.push(seconds);
  return true;
}

/**
 * mkosi 14 makes a bootable disk on a loop device and mounts its ESP (vfat) to fill it; where the
 * kernel has no vfat it cannot, and the bootable build is compared with kiln's own plain one.
 */
function whyMkosiCannotBoot() {
  const filesystems = readFileSync('/proc/filesystems', 'utf8');
  const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const module = ['kernel/fs/fat/vfat.ko', 'kernel/fs/fat/vfat.ko.xz', 'kernel/fs/fat/vfat.ko.zst'].some((f) => existsSync(`/lib/modules/${release}/${f}`));
  if (/\bvfat\b/.test(filesystems) || module) return null;
  return 'its ESP is a loop device mounted as vfat, and this kernel has no vfat (nor loop partitions)';
}

/** Printed on the serial console by the unit the bootable case adds to mkosi.extra, which then powers off. */
const BOOT_MARKER = 'KILN-BENCH-BOOTED';
const MARKER_UNIT = `[Unit]
DefaultDependencies=no
After=multi-user.target
[Service]
Type=oneshot
StandardOutput=tty
TTYPath=/dev/ttyS0
ExecStart=/bin/echo ${BOOT_MARKER}
ExecStartPost=/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
`;

/**
 * Issue 13: a cold bootable gpt_ext4 build (kernel, dracut, systemd-boot, initrd, ESP, UKI) against
 * kiln's cold build of the same image without Bootable= (target: at most 1.5 times), and the time
 * from `kiln qemu` to the marker a unit prints once the machine reached multi-user.target.
 */
const bootableGptExt4 = {
  id: 'bootable-gpt-ext4',
  title: 'cold: Format=gpt_ext4 Bootable=yes, against kiln without Bootable=',
  target: { ratio: 1.5 },
  async run(bench) {
    const row = bench.row(this.id, this.title, this.target);
    row.baseline = 'kiln not bootable';
    const bootRow = bench.row('boot-qemu', 'boot: kiln qemu until multi-user.target (QemuHeadless=yes)', null);
    const mkosiReason = bench.tools.includes('mkosi') ? whyMkosiCannotBoot() : null;
    if (mkosiReason) row.note = `mkosi 14 not run: ${mkosiReason}`;
    const files = {
      'mkosi.extra/etc/systemd/system/kiln-bench-boot.service': MARKER_UNIT,
      'mkosi.extra/etc/systemd/system/multi-user.target.wants/kiln-bench-boot.service': { symlink: '../kiln-bench-boot.service' },
    };
    const append = { Output: ['Bootable=yes'], Host: ['QemuHeadless=yes'] };
    const tools = bench.tools.filter((t) => t === 'kiln' || !mkosiReason);
    // The kernel, dracut and systemd-boot are not among the warmed packages: one untimed build fetches them.
    for (const tool of tools) await bench.build(tool, await bench.project(tool, 'bootable', 'gpt_ext4', { append, files }), `${this.id}-warm`, { row: bench.rows.get('warm') });
    for (let run = 1; run <= bench.runs; run++) {
      const plain = await bench.project('kiln', 'bootable-plain', 'gpt_ext4');
      await bench.build('kiln', plain, `${this.id}-plain-${run}`, { row, as: 'kiln not bootable' });
      for (const tool of tools) {
        const project = await bench.project(tool, 'bootable', 'gpt_ext4', { append, files });
        if (!(await bench.build(tool, project, `${this.id}-${run}`, { row }))) continue;
        const image = outputPath(project.dir, 'gpt_ext4');
        const ukis = await espKernelImages(image);
        const installed = await hasPackage(image, 'gpt_ext4', SEED_PACKAGES[0]);
        bench.check(row, tool, ukis.length === 1 && installed, `${ukis.length} unified kernel image(s) in the ESP, ${SEED_PACKAGES[0]} ${installed ? 'installed' : 'MISSING'}`);
        if (tool !== 'kiln') continue;
        const booted = await bench.timed('kiln', qemuArgv(project, bench.kilnBin), project.dir, `boot-qemu-${run}`);
        const line = booted ? readFileSync(booted.log, 'utf8').split('\n').find((l) => l.includes(BOOT_MARKER)) : undefined;
        const seconds = line ? Number(/^\[\s*([\d.]+)\]/.exec(line)?.[1]) : NaN;
        if (Number.isFinite(seconds)) bench.sample(bootRow, 'kiln').seconds.push(seconds);
        else bench.sample(bootRow, 'kiln').failed = `no marker on the serial console${booted ? `, see ${booted.log}` : ''}`;
        bench.check(bootRow, 'kiln', Number.isFinite(seconds), `marker after ${seconds.toFixed(1)} s, qemu ended after ${booted ? booted.seconds.toFixed(1) : '—'} s`);
      }
    }
  },
};


/** A fixed epoch for the reproducible builds: 2023-11-14, older than most packages of a stable release's point releases. */
const EPOCH = 1_700_000_000;

/** The median of the seconds a row's kiln builds took. */
const kilnMedian = (row) => {
  const seconds = [...(row.samples.kiln?.seconds ?? [])].sort((a, b) => a - b);
  return seconds.length ? seconds[Math.floor((seconds.length - 1) / 2)] : NaN;
};

/**
 * Issue 15, the cost of reproducibility: the same cold build of kiln with and without
 * SOURCE_DATE_EPOCH (kiln only: mkosi 14 has none), alternating within each run so that a change in
 * the machine's load touches both alike. Each reproducible build must give the SHA256SUMS of the first.
 */
function reproducibleCase(id, format) {
  return {
    id,
    title: `reproducible: ${format} with SOURCE_DATE_EPOCH`,
    target: null,
    async run(bench) {
      if (!bench.tools.includes('kiln')) {
        bench.say(`  ${id}: skipped (kiln only; run it with --tools kiln or both)`);
        return;
      }
      const plain = bench.row(`${id}-plain`, `reproducible: ${format} without SOURCE_DATE_EPOCH (the same build)`, null);
      const row = bench.row(id, this.title, null);
      let firstSums;
      for (let run = 1; run <= bench.runs; run++) {
        const without = await bench.project('kiln', `${id}-plain`, format);
        // --checksum on both sides: the reproducible build is judged by its SHA256SUMS.
        if (await bench.build('kiln', without, `${id}-plain-${run}`, { row: plain, extra: ['--checksum'] })) {
          const marker = await readImageFile(outputPath(without.dir, format), format, MARKER);
          bench.check(plain, 'kiln', marker === 'seed\n', `mkosi.extra marker ${marker === 'seed\n' ? 'present' : 'MISSING'}`);
        }
        const withEpoch = await bench.project('kiln', id, format);
        if (!(await bench.build('kiln', withEpoch, `${id}-${run}`, { row, extra: ['--checksum', `--source-date-epoch=${EPOCH}`] }))) continue;
        const sums = await fs.readFile(path.join(withEpoch.dir, 'SHA256SUMS'), 'utf8').catch(() => null);
        firstSums ??= sums;
        const marker = await readImageFile(outputPath(withEpoch.dir, format), format, MARKER);
        const same = sums !== null && sums === firstSums;
        bench.check(row, 'kiln', marker === 'seed\n' && same, `mkosi.extra marker ${marker === 'seed\n' ? 'present' : 'MISSING'}; SHA256SUMS ${same ? (run === 1 ? 'written' : 'the same as run 1\'s') : 'DIFFERS from run 1\'s'}`);
      }
      const cost = kilnMedian(row) / kilnMedian(plain) - 1;
      if (Number.isFinite(cost)) row.note = `${cost >= 0 ? '+' : ''}${(cost * 100).toFixed(0)}% against the build without SOURCE_DATE_EPOCH`;
    },
  };
}

const VARIANT_TITLES = {
  plain: 'reference: mmdebstrap alone (same packages and .debs)',
  kiln: "reference: mmdebstrap with kiln's options",
  proposed: 'reference: mmdebstrap with the proposed options',
};

/**
 * mmdebstrap alone, with the package set kiln installs and kiln's warmed .debs: kiln's floor. With
 * several variants, each run builds them in turn, so that a change in the machine's speed during the
 * run touches every variant alike.
 */
function mmdebstrapCase(id, variants) {
  return {
    id,
    title: variants.length === 1 ? VARIANT_TITLES[variants[0]] : `mmdebstrap variants: ${variants.join(', ')}`,
    target: null,
    async run(bench) {
      if (!bench.tools.includes('kiln')) {
        bench.say(`  ${id}: skipped (it measures kiln's floor; run it with --tools kiln or both)`);
        return;
      }
      const rows = variants.map((variant) => bench.row(`mmdebstrap-${variant}`, VARIANT_TITLES[variant], null));
      const cache = await bench.packageCache('kiln');
      const debs = path.join(cache, `debian~${bench.release}`, 'packages');
      const target = path.join(bench.work, 'mmdebstrap', 'root');
      await fs.mkdir(path.dirname(target), { recursive: true });
      for (let run = 1; run <= bench.runs; run++) {
        for (const [index, variant] of variants.entries()) {
          await fs.rm(target, { recursive: true, force: true });
          const argv = mmdebstrapArgv({ release: bench.release, sourceLines: bench.sourceLines, debs, target, variant });
          if (await bench.timed('mmdebstrap', argv, bench.work, `mmdebstrap-${variant}-${run}`, rows[index])) {
            const installed = await hasPackage(target, 'directory', SEED_PACKAGES[0]);
            const usrmerge = await hasPackage(target, 'directory', 'usrmerge');
            const docs = await fs.readdir(path.join(target, 'usr/share/doc')).catch(() => []);
            const detail = `${SEED_PACKAGES[0]} ${installed ? 'installed' : 'MISSING'}; usrmerge ${usrmerge ? 'installed' : 'not installed'}; ${docs.length} entries in /usr/share/doc`;
            bench.check(rows[index], 'mmdebstrap', installed, detail);
          }
        }
      }
      await fs.rm(target, { recursive: true, force: true });
    },
  };
}

export const CASES = [
  coldCase('cold-directory', 'cold: Format=directory', 'directory'),
  coldCase('cold-tar', 'cold: Format=tar (tar.xz)', 'tar'),
  coldCase('cold-gpt-ext4', 'cold: Format=gpt_ext4', 'gpt_ext4'),
  coldCase('cold-gpt-btrfs', 'cold: Format=gpt_btrfs', 'gpt_btrfs'),
  coldCase('cold-gpt-xfs', 'cold: Format=gpt_xfs', 'gpt_xfs'),
  coldCase('cold-gpt-squashfs', 'cold: Format=gpt_squashfs', 'gpt_squashfs', {
    // Seen here: without udev making /dev/loop0p1, mkosi 14 wrote the squashfs into a regular file of
    // that name on /dev, which then broke systemd-dissect for every later loop0 user.
    mkosi: 'mkosi 14 fails on gpt_squashfs without udev and leaves a regular file /dev/loop0p1 behind',
  }),
  debianMinimal,
  allThree,
  bootableGptExt4,
  iterateExtra,
  iteratePackage,
  buildFirst,
  buildIterate,
  mmdebstrapCase('mmdebstrap', ['plain']),
  mmdebstrapCase('mmdebstrap-variants', ['plain', 'kiln', 'proposed']),
  reproducibleCase('reproducible-tar', 'tar'),
  reproducibleCase('reproducible-gpt-ext4', 'gpt_ext4'),
  reproducibleCase('reproducible-gpt-btrfs', 'gpt_btrfs'),
];

export const DEFAULT_CASES = ['cold-directory', 'cold-tar', 'cold-gpt-ext4', 'images-debian-minimal', 'iterate-extra', 'iterate-package', 'build-first', 'build-iterate', 'mmdebstrap'];
