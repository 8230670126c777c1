/**
 * kiln doctor on this host, as a new user runs it: every distribution and format kiln builds has a
 * row, what is found is marked so, and a tool hidden from it (a private mount namespace binds
 * /dev/null over the program) is reported missing with the Debian package that has it, and makes
 * the command fail so that scripts can check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateTool } from '../../src/host-tools.js';
import { inCI, unavailable } from '../skip.js';
import { KILN, runAsync, whyNotRoot } from './helpers/kiln.js';

const reason = whyNotRoot(['unshare', 'mksquashfs', 'mount']);

describe.skipIf(reason)('kiln doctor', () => {
  // .ci/run installs everything kiln uses, but Debian 12 has no package with Ubuntu's archive
  // keyring: a file stands in for it, in a private mount namespace.
  it.skipIf(unavailable(inCI() ? undefined : 'needs the machine .ci/run sets up (CI set)'))('reports every distribution and format, and succeeds on a machine set up by .ci/run', async () => {
    const script = [
      'mkdir -p "$0" && cp -a /usr/share/keyrings/. "$0"/ && touch "$0/ubuntu-archive-keyring.gpg"',
      'mount --bind "$0" /usr/share/keyrings && exec "$@"',
    ].join(' && ');
    const keyrings = mkdtempSync(path.join(os.tmpdir(), 'kiln-doctor-'));
    try {
      const result = await runAsync(['unshare', '--mount', 'sh', '-c', script, path.join(keyrings, 'k'), KILN, 'doctor']);
      for (const label of ['debian', 'ubuntu', 'arch', 'fedora', 'directory', 'tar', 'subvolume', 'gpt_ext4', 'gpt_xfs', 'gpt_btrfs', 'gpt_squashfs', 'plain_squashfs', 'lxc', 'incus', 'Sign=yes', 'lxc images']) {
        expect(result.stdout, label).toMatch(new RegExp(`^  ${label} +[✓(]`, 'm'));
      }
      expect(result.stdout).toMatch(/^ {2}gpt_ext4 +✓ mkfs\.ext4 .*✓ sfdisk/m);
      expect(result.stdout).not.toMatch(/^  .*✗/m);
      expect(result.stdout).toContain('\nEverything kiln can use is here.\n');
      expect(result.status).toBe(0);
    } finally {
      rmSync(keyrings, { recursive: true, force: true });
    }
  });

  it('names the package of a tool it cannot find', async () => {
    const program = locateTool('mksquashfs')!;
    const result = await runAsync(['unshare', '--mount', 'sh', '-c', 'mount --bind /dev/null "$0" && exec "$@"', program, KILN, 'doctor']);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^ {2}gpt_squashfs +✗ mksquashfs \[apt-get install squashfs-tools\] {2}✓ sfdisk$/m);
    expect(result.stdout).toMatch(/^ {2}plain_squashfs +✗ mksquashfs \[apt-get install squashfs-tools\]$/m);
    expect(result.stdout).toMatch(/^Missing: .*\bmksquashfs\b/m);
    expect(result.stdout).toMatch(/^Install with: apt-get install .*\bsquashfs-tools\b/m);
  });
});
