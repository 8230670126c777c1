/**
 * kiln doctor's lists come from the registries (package managers' and formats' requiredTools(), the
 * distributions' keyrings), so every distribution and format kiln builds appears, with the tools
 * its build really checks for.
 */
import { describe, expect, it } from 'vitest';
import { requiredTools } from '../../../src/checks.js';
import { DISTRIBUTIONS } from '../../../src/distributions/index.js';
import { OUTPUTS } from '../../../src/outputs/index.js';
import { buildReport, configWith, formatReport, isPresent, missingPackages, withoutCandidate, type Report } from '../../../src/verbs/doctor.js';

const report = buildReport();
const row = (group: number, label: string) => report.groups[group]!.rows.find((r) => r.label === label)!;
const names = (group: number, label: string) => row(group, label).needs.map((need) => need.alternatives.join('|'));

describe('kiln doctor', () => {
  it('has a row for every distribution and every output format in the registries', () => {
    expect(report.groups[0]!.rows.map((r) => r.label)).toEqual(Object.keys(DISTRIBUTIONS));
    expect(report.groups[1]!.rows.map((r) => r.label)).toEqual(Object.keys(OUTPUTS));
  });

  it('lists what the package managers ask for, with either bootstrapper for Debian, and the archive keyring', () => {
    expect(names(0, 'debian')).toEqual(['mmdebstrap|debootstrap', 'dpkg-query', 'systemd-nspawn', '/usr/share/keyrings/debian-archive-keyring.gpg']);
    expect(row(0, 'debian').needs[3]).toMatchObject({ file: true, package: 'debian-archive-keyring' });
    expect(names(0, 'arch')).toEqual(['pacman', 'unshare']);
    expect(names(0, 'fedora')).toEqual(['dnf', 'rpm', 'unshare']);
  });

  it('lists what each format adds to a directory build, as the build\'s own check computes it', () => {
    const base = requiredTools(configWith({ Distribution: 'debian', Format: 'directory' }));
    for (const format of Object.keys(OUTPUTS)) {
      const full = requiredTools(configWith({ Distribution: 'debian', Format: format }));
      expect(names(1, format), format).toEqual(full.filter((tool) => !base.includes(tool)));
    }
    expect(names(1, 'gpt_ext4')).toEqual(expect.arrayContaining(['mkfs.ext4', 'sfdisk']));
    expect(names(1, 'tar')).toContain('xz');
    expect(names(2, 'Sign=yes')).toEqual(['gpg']);
  });

  it('lists what runs the images for trying them out: LXC for Format=lxc, qemu and ssh for bootable disks', () => {
    expect(report.groups[3]!.rows.map((r) => r.label)).toEqual(['lxc images', 'kiln qemu', 'kiln ssh']);
    expect(row(3, 'lxc images').needs).toEqual(['lxc-create', 'lxc-start', 'lxc-attach'].map((name) => ({ alternatives: [name], package: 'lxc' })));
    const qemu = report.groups[3]!.rows.find((r) => r.label === 'kiln qemu')!.needs;
    expect(qemu[0]).toEqual({ alternatives: ['qemu-system-x86_64', 'qemu-kvm', 'qemu'], package: 'qemu-system-x86' });
    expect(qemu[1]).toMatchObject({ file: true, name: 'UEFI firmware (OVMF)', package: 'ovmf' });
    expect(qemu[1]!.alternatives).toContain('/usr/share/OVMF/OVMF_CODE.secboot.fd');
    expect(row(3, 'kiln ssh').needs).toEqual([{ alternatives: ['ssh'], package: 'openssh-client' }]);
  });

  it('lists what Bootable=yes and Ssh=yes add', () => {
    expect(names(2, 'Bootable=yes')).toEqual(['mkfs.fat', 'mcopy', 'zstd', 'objcopy']);
    expect(names(2, 'Ssh=yes, Netdev=yes')).toEqual(['systemctl', 'ssh-keygen']);
  });

  it('names the Debian package of what is missing, once each', () => {
    const fake: Report = {
      groups: [
        {
          title: 'Test',
          rows: [
            { label: 'one', needs: [{ alternatives: ['kiln-no-such-tool'], package: 'kiln-pkg' }, { alternatives: ['sh'], package: 'dash' }] },
            { label: 'two', needs: [{ alternatives: ['kiln-no-such-tool'], package: 'kiln-pkg' }, { alternatives: ['/nonexistent/keyring.gpg'], file: true, package: 'kiln-keyring' }] },
          ],
        },
      ],
    };
    expect(isPresent({ alternatives: ['kiln-no-such-tool', 'sh'], package: undefined })).toBe(true);
    expect(missingPackages(fake)).toEqual({ missing: ['kiln-no-such-tool', '/nonexistent/keyring.gpg'], packages: ['kiln-pkg', 'kiln-keyring'] });
    const text = formatReport(fake);
    expect(text).toContain('  one  ✗ kiln-no-such-tool [apt-get install kiln-pkg]  ✓ sh\n');
    expect(text).toContain('✗ /nonexistent/keyring.gpg [apt-get install kiln-keyring]');
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
