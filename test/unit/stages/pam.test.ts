/** PAM as openSUSE ships it: files copied from the vendor directory before kiln changes them. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildContext } from '../../../src/context.js';
import { opensuse } from '../../../src/distributions/opensuse.js';
import { adjustPam, allowEmptyPassword, withNullok } from '../../../src/stages/pam.js';
import { configOf } from '../package-managers/config-of.js';

const COMMON_AUTH = [
  '#%PAM-1.0',
  '# pam_unix.so is the last module',
  'auth\trequired\tpam_env.so',
  'auth\trequired\tpam_unix.so\ttry_first_pass   ',
  'auth\toptional\tpam_gnome_keyring.so',
  '',
].join('\n');

describe('withNullok', () => {
  it('adds nullok to pam_unix.so lines only, keeping each line on its own', () => {
    expect(withNullok(COMMON_AUTH)).toBe(COMMON_AUTH.replace('try_first_pass   \n', 'try_first_pass nullok\n'));
  });

  it('leaves a line that has nullok alone, and modules whose name only contains pam_unix', () => {
    const text = 'auth required pam_unix.so nullok try_first_pass\naccount required pam_unix_acct.so\n';
    expect(withNullok(text)).toBe(text);
  });
});

describe('PAM changes in an image root', () => {
  let base: string;
  let root: string;

  beforeEach(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-pam-'));
    root = path.join(base, 'root');
    await fs.mkdir(path.join(root, 'usr/lib/pam.d'), { recursive: true });
  });

  afterEach(async () => {
    await fs.rm(base, { recursive: true, force: true });
  });

  const read = (file: string): Promise<string> => fs.readFile(path.join(root, file), 'utf8');

  it('copies common-auth from /usr/lib/pam.d with its mode, and changes only the copy', async () => {
    await fs.writeFile(path.join(root, 'usr/lib/pam.d/common-auth'), COMMON_AUTH, { mode: 0o640 });
    await allowEmptyPassword(root, opensuse.pam!);
    expect(await read('etc/pam.d/common-auth')).toBe(withNullok(COMMON_AUTH));
    expect((await fs.stat(path.join(root, 'etc/pam.d/common-auth'))).mode & 0o777).toBe(0o640);
    expect(await read('usr/lib/pam.d/common-auth')).toBe(COMMON_AUTH);
  });

  it('takes /usr/etc/pam.d (older openSUSE) when /usr/lib/pam.d has no copy, and changes an /etc/pam.d file in place', async () => {
    await fs.mkdir(path.join(root, 'usr/etc/pam.d'), { recursive: true });
    await fs.writeFile(path.join(root, 'usr/etc/pam.d/common-auth'), COMMON_AUTH);
    await allowEmptyPassword(root, opensuse.pam!);
    expect(await read('etc/pam.d/common-auth')).toBe(withNullok(COMMON_AUTH));

    await fs.writeFile(path.join(root, 'etc/pam.d/common-auth'), 'auth sufficient pam_unix.so\n');
    await allowEmptyPassword(root, opensuse.pam!);
    expect(await read('etc/pam.d/common-auth')).toBe('auth sufficient pam_unix.so nullok\n');
  });

  it('creates nothing when no copy of the file exists', async () => {
    await allowEmptyPassword(root, opensuse.pam!);
    await expect(fs.readdir(path.join(root, 'etc/pam.d'))).rejects.toThrow();
  });

  it('never writes through an /etc/pam.d that links out of the image', async () => {
    const outside = path.join(base, 'host-pam.d');
    await fs.mkdir(outside);
    await fs.mkdir(path.join(root, 'etc'));
    await fs.symlink(outside, path.join(root, 'etc/pam.d'));
    await fs.writeFile(path.join(root, 'usr/lib/pam.d/common-auth'), COMMON_AUTH);
    await allowEmptyPassword(root, opensuse.pam!);
    expect(await fs.readdir(outside)).toEqual([]);
    // The absolute link resolves inside the image, as it would there.
    expect(await read(`${outside}/common-auth`)).toBe(withNullok(COMMON_AUTH));
  });

  it('adjustPam: an empty Password= and Autologin= on openSUSE; nothing for a distribution with PAM in /etc', async () => {
    await fs.writeFile(path.join(root, 'usr/lib/pam.d/common-auth'), COMMON_AUTH);
    await fs.writeFile(path.join(root, 'usr/lib/pam.d/login'), 'auth include common-auth\n');
    const context = (distribution: string): BuildContext =>
      ({ root, config: configOf(`[Distribution]\nDistribution=${distribution}\n[Content]\nPassword=\nAutologin=yes\n`) }) as BuildContext;
    expect(context('opensuse').config.Password).toBe('');

    await adjustPam(context('fedora'));
    await expect(fs.readdir(path.join(root, 'etc/pam.d'))).rejects.toThrow();
    await adjustPam(context('opensuse'));
    expect(await read('etc/pam.d/common-auth')).toBe(withNullok(COMMON_AUTH));
    expect(await read('etc/pam.d/login')).toBe('auth include common-auth\n');
  });
});
