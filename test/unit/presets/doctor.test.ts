/**
 * kiln doctor against a host made up in a temporary directory: a search path holding only chosen
 * programs and a root holding only chosen keyrings. The expected lines are written out by hand, so
 * a tool dropped from (or added to) what a distribution or format checks for shows up here.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildReport, formatReport, verdict, withoutCandidate, type Probe } from '../../../src/verbs/doctor.js';

/** Every program doctor asks about, as this test's author reads kiln's build checks. */
const ALL_PROGRAMS = [
  'mmdebstrap', 'debootstrap', 'dpkg-query', 'systemd-nspawn', 'pacman', 'unshare', 'dnf', 'rpm', 'zypper',
  'getfattr', 'xz', 'btrfs', 'cp', 'mkfs.ext4', 'debugfs', 'sfdisk', 'mkfs.xfs', 'xfs_db', 'mkfs.btrfs', 'mksquashfs',
  'systemctl', 'zstd', 'gzip', 'gpg', 'git', 'mkfs.fat', 'mcopy', 'objcopy', 'ssh-keygen',
  'lxc-create', 'lxc-start', 'lxc-attach', 'qemu-system-x86_64', 'mdir', 'ssh',
  'cpio', 'veritysetup', 'openssl', 'cryptsetup', 'bmaptool', 'resize2fs', 'dumpe2fs', 'rsync', 'sbsign', 'systemd-measure', 'swtpm',
];
const DEBIAN_KEYRING = 'usr/share/keyrings/debian-archive-keyring.gpg';
const UBUNTU_KEYRING = 'usr/share/keyrings/ubuntu-archive-keyring.gpg';
/** Debian's OVMF package on x86_64 (this test's expectations are an x86_64 host's, like CI's). */
const FIRMWARE = 'usr/share/OVMF/OVMF_CODE.fd';
/** What systemd-measure loads for SignExpectedPCR= (with either TPM transport), where Debian keeps it on x86_64. */
const TPM_LIBRARIES = ['libtss2-esys.so.0', 'libtss2-rc.so.0', 'libtss2-mu.so.0', 'libtss2-tcti-swtpm.so.0', 'libtss2-tcti-device.so.0'].map((name) => `usr/lib/x86_64-linux-gnu/${name}`);

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'kiln-doctor-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

/** A host with these programs (empty executables) on its search path and these files under its root. */
function host(programs: readonly string[], files: readonly string[]): Probe {
  const bin = path.join(scratch, 'bin');
  const root = path.join(scratch, 'root');
  mkdirSync(bin, { recursive: true });
  for (const name of programs) {
    writeFileSync(path.join(bin, name), '#!/bin/sh\n');
    chmodSync(path.join(bin, name), 0o755);
  }
  for (const file of files) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), '');
  }
  return { path: bin, root };
}

const lines = (text: string) => text.split('\n');

describe('kiln doctor', () => {
  it('marks what the search path and root hold, and names the package of what they do not', () => {
    const probe = host(['debootstrap', 'dpkg-query', 'systemd-nspawn', 'pacman', 'mkfs.ext4', 'sfdisk', 'xz', 'gpg', 'qemu-kvm', 'objcopy'], [DEBIAN_KEYRING]);
    const text = formatReport(buildReport(), probe);
    expect(lines(text)).toEqual(expect.arrayContaining([
      'Host tools kiln runs, by what needs them (✓ found, ✗ missing [the Debian package that has it]):',
      'Distributions:',
      '  debian                         ✓ mmdebstrap (or debootstrap)  ✓ dpkg-query  ✓ systemd-nspawn  ✓ /usr/share/keyrings/debian-archive-keyring.gpg',
      '  ubuntu                         ✓ mmdebstrap (or debootstrap)  ✓ dpkg-query  ✓ systemd-nspawn  ✗ /usr/share/keyrings/ubuntu-archive-keyring.gpg [see below]',
      '  arch                           ✓ pacman  ✗ unshare [apt-get install util-linux]',
      '  fedora                         ✗ dnf [apt-get install dnf]  ✗ rpm [apt-get install rpm]  ✗ unshare [apt-get install util-linux]',
      '  opensuse                       ✗ zypper [apt-get install zypper]  ✗ rpm [apt-get install rpm]  ✗ unshare [apt-get install util-linux]',
      'Output formats (beyond the distribution\'s tools):',
      '  directory                      (nothing more)',
      '  tar                            ✗ getfattr [apt-get install attr]  ✓ xz',
      '  gpt_ext4                       ✓ mkfs.ext4  ✗ debugfs [apt-get install e2fsprogs]  ✓ sfdisk',
      '  gpt_squashfs                   ✗ mksquashfs [apt-get install squashfs-tools]  ✓ sfdisk',
      '  plain_squashfs                 ✗ mksquashfs [apt-get install squashfs-tools]',
      'Options:',
      '  CompressOutput=zstd            ✗ zstd [apt-get install zstd]',
      '  Sign=yes                       ✓ gpg',
      '  SourceFileTransfer=copy-git-*  ✗ git [apt-get install git]',
      '  Bootable=yes                   ✗ mkfs.fat [apt-get install dosfstools]  ✗ mcopy [apt-get install mtools]  ✗ zstd [apt-get install zstd]  ✓ objcopy',
      '  Ssh=yes, Netdev=yes            ✗ systemctl [apt-get install systemd]  ✗ ssh-keygen [apt-get install openssh-client]',
      '  SecureBoot=yes                 ✗ sbsign [apt-get install sbsigntool]',
      'Running the images (to try them out):',
      '  lxc images                     ✗ lxc-create [apt-get install lxc]  ✗ lxc-start [apt-get install lxc]  ✗ lxc-attach [apt-get install lxc]',
      '  kiln qemu                      ✓ qemu-system-x86_64 (or qemu-kvm, qemu)  ✗ UEFI firmware (OVMF) [apt-get install ovmf]  ✗ mdir [apt-get install mtools]  ✓ objcopy',
      '  kiln ssh                       ✗ ssh [apt-get install openssh-client]',
    ]));
  });

  it('has a row for every distribution and output format kiln builds', () => {
    const labels = lines(formatReport(buildReport(), host([], []))).map((line) => /^ {2}(.+?) {2,}[✓✗(]/.exec(line)?.[1]).filter(Boolean);
    expect(labels).toEqual([
      'debian', 'ubuntu', 'arch', 'fedora', 'opensuse', 'centos', 'centos_epel', 'rocky', 'rocky_epel', 'alma', 'alma_epel', 'mageia', 'openmandriva',
      'directory', 'tar', 'cpio', 'subvolume', 'gpt_ext4', 'gpt_xfs', 'gpt_btrfs', 'gpt_squashfs', 'plain_squashfs', 'lxc', 'incus',
      'CompressOutput=zstd', 'CompressOutput=gz', 'Sign=yes', 'SourceFileTransfer=copy-git-*', 'Bootable=yes', 'Ssh=yes, Netdev=yes',
      'Verity=signed', 'Encrypt=', 'BMap=yes', 'Minimize=yes', 'SecureBoot=yes', 'SignExpectedPCR=yes', 'Incremental=yes, directory',
      'lxc images', 'kiln qemu', 'kiln ssh',
    ]);
  });

  it('ends with the packages to install, once each, and fails', () => {
    const probe = host(ALL_PROGRAMS.filter((name) => !['mksquashfs', 'xz', 'lxc-start'].includes(name)), [DEBIAN_KEYRING, UBUNTU_KEYRING, FIRMWARE, ...TPM_LIBRARIES]);
    expect(verdict(buildReport(), probe)).toEqual({
      text: '\nMissing: xz, mksquashfs, lxc-start\nInstall with: apt-get install xz-utils squashfs-tools lxc   (or: sudo kiln doctor --install)\n',
      status: 1,
    });
  });

  it('says what to do about a keyring no Debian 12 package has, instead of an empty apt-get line', () => {
    const probe = host(ALL_PROGRAMS, [DEBIAN_KEYRING, FIRMWARE, ...TPM_LIBRARIES]);
    expect(verdict(buildReport(), probe)).toEqual({
      text: [
        '',
        'Missing: /usr/share/keyrings/ubuntu-archive-keyring.gpg',
        'No Debian 12 package has /usr/share/keyrings/ubuntu-archive-keyring.gpg: copy it from Ubuntu\'s ubuntu-keyring package, or set RepositoryKeyCheck=no',
        '',
      ].join('\n'),
      status: 1,
    });
  });

  it('succeeds when everything is there', () => {
    expect(verdict(buildReport(), host(ALL_PROGRAMS, [DEBIAN_KEYRING, UBUNTU_KEYRING, FIRMWARE, ...TPM_LIBRARIES]))).toEqual({ text: '\nEverything kiln can use is here.\n', status: 0 });
  });
});

describe('kiln doctor --install', () => {
  it('leaves out the packages apt has no candidate for', () => {
    const policy = [
      'zstd:',
      '  Installed: 1.5.4+dfsg2-5',
      '  Candidate: 1.5.4+dfsg2-5',
      '  Version table:',
      'ubuntu-keyring:',
      '  Installed: (none)',
      '  Candidate: (none)',
      '  Version table:',
      'dnf:',
      '  Installed: (none)',
      '  Candidate: 4.14.0-3',
    ].join('\n');
    expect(withoutCandidate(policy)).toEqual(['ubuntu-keyring']);
  });
});
