/**
 * kiln doctor on this host, as a new user runs it: every distribution and format kiln builds has a
 * row, what is found is marked so, and a tool hidden from it (a private mount namespace binds
 * /dev/null over the program) is reported missing with the Debian package that has it, and makes
 * the command fail so that scripts can check.
 */
import { describe, expect, it } from 'vitest';
import { locateTool } from '../../src/host-tools.js';
import { KILN, kiln, runAsync, whyNotRoot } from './helpers/kiln.js';

const reason = whyNotRoot(['unshare', 'mksquashfs', 'mount']);

describe.skipIf(reason)('kiln doctor', () => {
  it('reports every distribution and format, and fails only when something is missing', async () => {
    const result = await kiln(['doctor']);
    for (const label of ['debian', 'ubuntu', 'arch', 'fedora', 'directory', 'tar', 'subvolume', 'gpt_ext4', 'gpt_xfs', 'gpt_btrfs', 'gpt_squashfs', 'plain_squashfs', 'lxc', 'incus', 'Sign=yes', 'lxc images']) {
      expect(result.stdout, label).toMatch(new RegExp(`^  ${label} +[✓✗(]`, 'm'));
    }
    expect(result.stdout).toMatch(/^ {2}gpt_ext4 +✓ mkfs\.ext4 .*✓ sfdisk/m);
    const missing = result.stdout.includes('✗');
    expect(result.status).toBe(missing ? 1 : 0);
    expect(result.stdout).toContain(missing ? '\nMissing: ' : '\nEverything kiln can use is here.\n');
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
