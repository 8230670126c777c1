/** BaseImage='s pure parts: the checks before the build and reading getfattr's listing (the overlay itself runs in test/integration). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseImageProblems, overlayAttributes } from '../../../src/stages/base-image.js';
import { configWith } from '../../../src/verbs/doctor.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'kiln-base-image-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('BaseImage=', () => {
  it('takes a directory, and says why not a file, a missing path or a path overlayfs cannot name', () => {
    expect(baseImageProblems(configWith({ Distribution: 'debian', BaseImage: scratch }))).toEqual([]);
    const file = path.join(scratch, 'base.raw');
    writeFileSync(file, '');
    expect(baseImageProblems(configWith({ Distribution: 'debian', BaseImage: file }))[0]).toMatch(/^BaseImage=.*base\.raw is not a directory: kiln takes the base's root as a directory \(a file would need a loop device and a mount\)/);
    expect(baseImageProblems(configWith({ Distribution: 'debian', BaseImage: path.join(scratch, 'gone') }))).toEqual([`BaseImage=${scratch}/gone does not exist`]);
    expect(baseImageProblems(configWith({ Distribution: 'debian', BaseImage: '/a,b' }))).toContain('BaseImage=/a,b: overlayfs cannot take a path with ",", ":" or "\\" in it');
  });

  it('refuses Bootable=yes: the changes to a base have no kernel of their own', () => {
    expect(baseImageProblems(configWith({ Distribution: 'debian', Format: 'gpt_ext4', Bootable: 'yes', BaseImage: scratch }))).toEqual([
      'BaseImage= with Bootable=yes: an image made of changes to a base has no kernel or boot loader of its own to boot',
    ]);
  });

  it('turns BasePackages= off, as mkosi 14', () => {
    expect(configWith({ Distribution: 'debian', BaseImage: scratch }).BasePackages).toBe(false);
  });
});

describe('overlayAttributes', () => {
  it('reads each file\'s trusted.overlay.* names from getfattr -d, unescaping its octal', () => {
    const output = ['# file: /w/root/var/lib/apt', 'trusted.overlay.opaque="y"', '', '# file: /w/root/a\\040b', 'trusted.overlay.origin=0sAA==', 'trusted.overlay.impure="y"', ''].join('\n');
    expect(overlayAttributes(output)).toEqual([
      { file: '/w/root/var/lib/apt', names: ['trusted.overlay.opaque'] },
      { file: '/w/root/a b', names: ['trusted.overlay.origin', 'trusted.overlay.impure'] },
    ]);
  });
});
