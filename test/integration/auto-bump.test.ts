/**
 * --auto-bump (mkosi 14's -B): a build that succeeds is named after the current version, then
 * mkosi.version holds the next one; a build that fails leaves mkosi.version as it was. Both build
 * the shared minimal root (CACHED): the bootstrap is not what is tested.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED, kiln, whyNotRoot } from './helpers/kiln.js';
import { minimalProject, writeScript } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn']);

describe.skipIf(skip)('--auto-bump', () => {
  let dir: string;
  beforeAll(() => {
    dir = minimalProject();
    writeFileSync(path.join(dir, 'mkosi.version'), '1.4\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the image after the version it was built with, then writes the next one to mkosi.version', async () => {
    const result = await kiln([...CACHED, '--auto-bump', 'build'], { cwd: dir });
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    expect(existsSync(path.join(dir, 'image_1.4', 'etc/os-release'))).toBe(true);
    expect(result.stderr).toContain("Increasing last component of version by one, bumping '1.4' → '1.5'.");
    expect(readFileSync(path.join(dir, 'mkosi.version'), 'utf8')).toBe('1.5\n');
  }, 1_800_000);

  it('leaves mkosi.version alone when the build fails', async () => {
    writeScript(dir, 'mkosi.finalize', '#!/bin/sh\nexit 3\n');
    const result = await kiln([...CACHED, '--auto-bump', 'build'], { cwd: dir });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('mkosi.finalize');
    expect(readFileSync(path.join(dir, 'mkosi.version'), 'utf8')).toBe('1.5\n');
    expect(existsSync(path.join(dir, 'image_1.5'))).toBe(false);
  }, 1_800_000);
});
