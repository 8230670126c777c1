/**
 * The error corpus: the real CLI (bin/kiln, compiled) on bad configurations in temporary
 * directories. Each must fail with exactly the pinned one-line message (plus hint), a non-zero exit,
 * no stack trace, nothing on stdout and nothing written.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCompiled } from '../../compat/compiled.js';
import { REPO } from '../../compat/corpus.js';

const KILN = path.join(REPO, 'bin/kiln');
const DEBIAN = '[Distribution]\nDistribution=debian\nRelease=bookworm\n';

interface ErrorCase {
  readonly name: string;
  /** Files to create: text, bytes, or text with a mode. */
  readonly files?: Readonly<Record<string, string | Uint8Array | { text: string; mode: number }>>;
  readonly argv: readonly string[];
  /** Added to kiln's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** The whole of stderr, line by line. */
  readonly stderr: readonly string[];
}

const CASES: readonly ErrorCase[] = [
  {
    name: 'SOURCE_DATE_EPOCH in the environment that is not a number of seconds',
    files: { 'mkosi.default': DEBIAN },
    argv: ['build'],
    env: { SOURCE_DATE_EPOCH: '2023-11-14' },
    stderr: [
      'kiln: error: the environment: SOURCE_DATE_EPOCH=2023-11-14 is not a time in seconds since 1970-01-01 (a whole number, as `git log -1 --format=%ct` prints it)',
      'kiln: hint: set it to the time of the last commit, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), or unset it',
    ],
  },
  {
    name: 'SOURCE_DATE_EPOCH in Environment= that is not a number of seconds',
    files: { 'mkosi.default': `${DEBIAN}[Content]\nEnvironment=SOURCE_DATE_EPOCH=soon\n` },
    argv: ['build'],
    stderr: [
      'kiln: error: mkosi.default:5: SOURCE_DATE_EPOCH=soon is not a time in seconds since 1970-01-01 (a whole number, as `git log -1 --format=%ct` prints it)',
      'kiln: hint: set it to the time of the last commit, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), or unset it',
    ],
  },
  {
    name: 'SourceDateEpoch= later than file systems can record',
    files: { 'mkosi.default': `${DEBIAN}[Content]\nSourceDateEpoch=99999999999\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:5: SourceDateEpoch=99999999999 is later than any file system can record (the largest is 17179869183)'],
  },
  {
    name: 'Seed= that is not a UUID',
    files: { 'mkosi.default': DEBIAN },
    argv: ['--seed=12345', 'summary'],
    stderr: ['kiln: error: command line: --seed=12345 is not a UUID or "random"'],
  },
  {
    name: 'mkosi.seed that holds no UUID',
    files: { 'mkosi.default': DEBIAN, 'mkosi.seed': 'not-a-uuid\n' },
    argv: ['build'],
    stderr: ['kiln: error: mkosi.seed: "not-a-uuid" is not a UUID or "random"', 'kiln: hint: write one UUID into it (uuidgen), or remove it'],
  },
  {
    name: 'unknown key, with a suggestion',
    files: { 'mkosi.default': `${DEBIAN}\n[Content]\nPakages=vim\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:6: unknown key Pakages=', 'kiln: hint: did you mean Packages=?'],
  },
  {
    name: 'unknown key in a drop-in, while building',
    files: { 'mkosi.default': DEBIAN, 'mkosi.default.d/10-extra.conf': '[Output]\nFormatt=tar\n' },
    argv: ['build'],
    stderr: ['kiln: error: mkosi.default.d/10-extra.conf:2: unknown key Formatt=', 'kiln: hint: did you mean Format=?'],
  },
  {
    name: 'unknown key in an unknown section (the section is read as mkosi 14 reads it; the key is not)',
    files: { 'mkosi.default': `${DEBIAN}[Contnet]\nPakages=vim\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:5: unknown key Pakages=', 'kiln: hint: did you mean Packages=?'],
  },
  {
    name: 'key repeated in one section',
    files: { 'mkosi.default': `${DEBIAN}[Content]\nPackages=vim\nWithDocs=yes\nPackages=less\n` },
    argv: ['summary'],
    stderr: [
      'kiln: error: mkosi.default:7: Packages= is set twice in [Content] (first at line 5)',
      'kiln: hint: put all values on one line or on indented continuation lines',
    ],
  },
  {
    name: 'section given twice',
    files: { 'mkosi.default': `${DEBIAN}[Output]\nFormat=tar\n[Distribution]\nMirror=file:///srv\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:6: section [Distribution] appears twice in this file (first at line 1)', 'kiln: hint: merge the two sections'],
  },
  {
    name: 'bad boolean',
    files: { 'mkosi.default': `${DEBIAN}[Content]\nWithDocs=maybe\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:5: WithDocs=maybe is not a boolean (use yes/no, true/false, on/off or 1/0)'],
  },
  {
    name: 'bad word for a boolean with words of its own',
    files: { 'mkosi.default': `${DEBIAN}[Content]\nWithNetwork=sometimes\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:5: WithNetwork=sometimes is not valid (use yes, no or never)'],
  },
  {
    name: 'bad size',
    files: { 'mkosi.default': `${DEBIAN}[Partitions]\nRootSize=3X\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:5: RootSize=3X is not a size (use a number of bytes with an optional K, M or G suffix, e.g. 3G)'],
  },
  {
    name: 'bad enum, listing the valid values',
    files: { 'mkosi.default': `${DEBIAN}[Output]\nFormat=gpt_ext5\n` },
    argv: ['summary'],
    stderr: [
      'kiln: error: mkosi.default:5: Format=gpt_ext5 is not valid (valid values: directory, subvolume, tar, cpio, gpt_ext4, gpt_xfs, gpt_btrfs, gpt_squashfs, plain_squashfs, lxc, incus)',
      'kiln: hint: did you mean gpt_ext4?',
    ],
  },
  {
    name: 'bad item of an enum list',
    files: { 'mkosi.default': `${DEBIAN}[Output]\nManifestFormat=json,chnagelog\n` },
    argv: ['summary'],
    stderr: [
      'kiln: error: mkosi.default:5: ManifestFormat=json,chnagelog: "chnagelog" is not valid (valid values: json, changelog)',
      'kiln: hint: did you mean changelog?',
    ],
  },
  {
    name: 'missing section header',
    files: { 'mkosi.default': 'Distribution=debian\n' },
    argv: ['summary'],
    stderr: [
      'kiln: error: mkosi.default:1: "Distribution=debian" comes before any [Section] header',
      'kiln: hint: start the file with a section such as [Distribution]',
    ],
  },
  {
    name: 'a file that is not text',
    files: { 'mkosi.default': new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00]) },
    argv: ['summary'],
    stderr: [
      'kiln: error: mkosi.default: is not a text file (it contains NUL bytes)',
      'kiln: hint: configuration files are INI text; did you point --default at an image?',
    ],
  },
  {
    name: 'a file that is not UTF-8',
    files: { 'mkosi.default': new Uint8Array([0x5b, 0x4f, 0x75, 0x74, 0x70, 0x75, 0x74, 0x5d, 0x0a, 0xff, 0xfe, 0x0a]) },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default: is not a text file (it is not valid UTF-8)'],
  },
  {
    name: 'an auto-detected script that is not executable',
    files: { 'mkosi.default': DEBIAN, 'mkosi.postinst': { text: '#!/bin/sh\n', mode: 0o644 } },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.postinst: is not executable (kiln runs it as PostInstallationScript=)', 'kiln: hint: chmod +x mkosi.postinst'],
  },
  {
    name: 'an auto-detected build script that is not executable',
    files: { 'mkosi.default': DEBIAN, 'mkosi.build': { text: '#!/bin/sh\n', mode: 0o644 } },
    argv: ['build'],
    stderr: ['kiln: error: mkosi.build: is not executable (kiln runs it as BuildScript=)', 'kiln: hint: chmod +x mkosi.build'],
  },
  {
    name: 'Gentoo, refused with its reason',
    files: { 'mkosi.default': '[Distribution]\nDistribution=gentoo\n' },
    argv: ['build'],
    stderr: [
      "kiln: error: mkosi.default:2: Distribution=gentoo is not supported by kiln: it builds from Gentoo's stage3 tarball and portage snapshot, which only Gentoo's own mirrors serve, so no local proof of such a build exists",
    ],
  },
  {
    name: 'a CentOS release mkosi 14 does not build either',
    files: { 'mkosi.default': '[Distribution]\nDistribution=centos\nRelease=7\n' },
    argv: ['build'],
    stderr: ['kiln: error: mkosi.default:3: Release=7: CentOS 7 and earlier are not supported (nor by mkosi 14)'],
  },
  {
    name: 'a configured script that does not exist',
    files: { 'mkosi.default': `${DEBIAN}[Content]\nFinalizeScript=scripts/finalize.sh\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:5: FinalizeScript=scripts/finalize.sh does not exist'],
  },
  {
    name: 'Force= in a file',
    files: { 'mkosi.default': `${DEBIAN}[Output]\nForce=yes\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:5: Force= can only be given on the command line (-f, --force)'],
  },
  {
    name: 'a key mkosi retired',
    files: { 'mkosi.default': `${DEBIAN}[Output]\nXZ=yes\n` },
    argv: ['summary'],
    stderr: ['kiln: error: mkosi.default:5: XZ= was replaced by CompressOutput=xz in mkosi 11'],
  },
  {
    name: 'unknown command-line option, with a suggestion',
    files: { 'mkosi.default': DEBIAN },
    argv: ['--chekcsum', 'summary'],
    stderr: ['kiln: error: command line: unknown option --chekcsum', 'kiln: hint: did you mean --checksum?'],
  },
  {
    name: 'unknown short option',
    argv: ['-Z', 'summary'],
    stderr: ['kiln: error: command line: unknown option -Z', 'kiln: hint: see kiln --help'],
  },
  {
    name: 'bad value on the command line',
    files: { 'mkosi.default': DEBIAN },
    argv: ['summary', '--checksum=maybe'],
    stderr: ['kiln: error: command line: --checksum=maybe is not a boolean (use yes/no, true/false, on/off or 1/0)'],
  },
  {
    name: 'bad short option value',
    files: { 'mkosi.default': DEBIAN },
    argv: ['-t', 'tarr', 'summary'],
    stderr: [
      'kiln: error: command line: -t tarr is not valid (valid values: directory, subvolume, tar, cpio, gpt_ext4, gpt_xfs, gpt_btrfs, gpt_squashfs, plain_squashfs, lxc, incus)',
      'kiln: hint: did you mean tar?',
    ],
  },
  {
    name: 'option without its value',
    files: { 'mkosi.default': DEBIAN },
    argv: ['summary', '--hostname'],
    stderr: ['kiln: error: command line: --hostname needs a value'],
  },
  {
    name: 'unknown verb',
    argv: ['biuld'],
    stderr: [
      'kiln: error: unknown verb "biuld"',
      'kiln: hint: did you mean build? (verbs: build, init, clean, summary, shell, boot, qemu, ssh, serve, bump, genkey, verify, doctor, help)',
    ],
  },
  {
    name: 'an argument after a verb that takes none',
    files: { 'mkosi.default': DEBIAN },
    argv: ['summary', 'extra'],
    stderr: [
      'kiln: error: unexpected argument "extra" after the verb summary',
      'kiln: hint: only shell and boot take a command line; options may come before or after the verb',
    ],
  },
  {
    name: '--default naming a missing file',
    files: { 'mkosi.default': DEBIAN },
    argv: ['--default', 'other.conf', 'summary'],
    stderr: ['kiln: error: no configuration file at other.conf', 'kiln: hint: --default takes a path relative to the -C directory'],
  },
  {
    name: '@FILE naming a missing file',
    files: { 'mkosi.default': DEBIAN },
    argv: ['@extra.conf', 'summary'],
    stderr: ['kiln: error: extra.conf: does not exist'],
  },
  {
    name: '-C naming a missing directory',
    argv: ['-C', 'project', 'summary'],
    stderr: ['kiln: error: the configuration directory project does not exist', 'kiln: hint: -C takes the directory that holds mkosi.default'],
  },
];

/** Every path under dir with its type, size and modification time. */
function snapshot(dir: string): string[] {
  const entries: string[] = [];
  const walk = (current: string): void => {
    for (const name of readdirSync(current).sort()) {
      const file = path.join(current, name);
      const stat = statSync(file);
      entries.push(`${path.relative(dir, file)} ${stat.isDirectory() ? 'dir' : stat.size} ${stat.mtimeMs}`);
      if (stat.isDirectory()) walk(file);
    }
  };
  walk(dir);
  return entries;
}

describe('error corpus: kiln on bad configurations', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-errors-'));
  beforeAll(ensureCompiled, 120_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  CASES.forEach((errorCase, index) => {
    it(errorCase.name, () => {
      const dir = path.join(root, String(index));
      mkdirSync(dir);
      for (const [name, content] of Object.entries(errorCase.files ?? {})) {
        const file = path.join(dir, name);
        mkdirSync(path.dirname(file), { recursive: true });
        if (typeof content === 'string' || content instanceof Uint8Array) writeFileSync(file, content);
        else {
          writeFileSync(file, content.text);
          chmodSync(file, content.mode);
        }
      }
      const before = snapshot(dir);
      const result = spawnSync(KILN, errorCase.argv, {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, SOURCE_DATE_EPOCH: '', XDG_CACHE_HOME: path.join(dir, '.cache'), NO_COLOR: '1', ...errorCase.env },
      });
      expect(result.stderr.split('\n')).toEqual([...errorCase.stderr, '']);
      expect(result.stdout).toBe('');
      expect(result.status).toBe(1);
      expect(snapshot(dir)).toEqual(before);
    });
  });
});
