/** The commit step holds the build to names.ts, the one list of output names. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commitArtifacts } from '../../../src/artifacts/commit.js';
import type { Config } from '../../../src/config/types.js';
import type { BuildContext } from '../../../src/context.js';
import { configOf } from '../package-managers/config-of.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function contextWith(names: readonly string[]): BuildContext {
  const out = mkdtempSync(path.join(os.tmpdir(), 'kiln-unit-commit-'));
  dirs.push(out);
  const staging = mkdtempSync(path.join(out, '.staging-'));
  const base = configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n[Validation]\nChecksum=yes\n');
  const config: Config = { ...base, Output: path.join(out, 'image.tar.xz'), NoChown: true };
  const artifacts = names.map((name) => {
    writeFileSync(path.join(staging, name), name);
    return { name, path: path.join(staging, name), checksummed: false };
  });
  return { config, outputDirectory: out, workspace: staging, artifacts } as unknown as BuildContext;
}

describe('commitArtifacts', () => {
  it('commits the outputs names.ts knows, 0644', async () => {
    const context = contextWith(['image.tar.xz', 'SHA256SUMS']);
    const committed = await commitArtifacts(context);
    expect(committed.map((file) => path.basename(file))).toEqual(['image.tar.xz', 'SHA256SUMS']);
    expect(statSync(committed[0]!).mode & 0o777).toBe(0o644);
  });

  it('refuses a file names.ts does not list, before anything lands', async () => {
    const context = contextWith(['image.tar.xz', 'image.rootfs.tar.xz']);
    await expect(commitArtifacts(context)).rejects.toThrow('internal: the build wrote image.rootfs.tar.xz, which producedOutputs() in src/artifacts/names.ts does not list');
    expect(() => statSync(path.join(context.outputDirectory, 'image.tar.xz'))).toThrow();
  });
});
