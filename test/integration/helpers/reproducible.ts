/**
 * The two-checkout comparison of reproducible builds (issue 15), shared by reproducible.test.ts (every
 * format, mmdebstrap) and reproducible-debootstrap.test.ts: one definition written into two
 * directories whose files have different mtimes, as two checkouts would, each with its own cache
 * (so each bootstraps itself) filled with hard links to the shared test cache's .deb files; built
 * with the same SOURCE_DATE_EPOCH; compared by SHA256SUMS and manifest, a difference explained.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { partitionTable } from '../disk-helpers.js';
import { blockDifferences, describeDifference, tarListing, treeDigestLines, type Region } from './compare.js';
import { kilnOk, TEST_CACHE } from './kiln.js';

export const EPOCH = 1_700_000_000;

/** A user made inside the container, and the epoch the script saw. */
export const POSTINST = `#!/bin/sh
set -e
useradd --create-home --shell /bin/sh builder
printf '%s\\n' "$SOURCE_DATE_EPOCH" > /etc/postinst-epoch
`;

export const FINALIZE = `#!/bin/sh
set -e
printf '%s\\n' "$SOURCE_DATE_EPOCH" > "$BUILDROOT/etc/finalize-epoch"
`;

/** One checkout of `definition` (with the scripts and an extra tree), its files dated `mtime`. */
export function checkout(parent: string, name: string, definition: string, mtime: Date): string {
  const dir = path.join(parent, name);
  const files: Record<string, { text: string; mode: number }> = {
    'mkosi.default': { text: definition, mode: 0o644 },
    'mkosi.postinst': { text: POSTINST, mode: 0o755 },
    'mkosi.finalize': { text: FINALIZE, mode: 0o755 },
    'mkosi.extra/etc/motd': { text: 'built reproducibly by kiln\n', mode: 0o644 },
    'mkosi.extra/usr/local/bin/hello': { text: '#!/bin/sh\necho hello\n', mode: 0o755 },
  };
  for (const [file, { text, mode }] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text, { mode });
  }
  fs.symlinkSync('hello', path.join(dir, 'mkosi.extra/usr/local/bin/hi'));
  execFileSync('find', [dir, '-exec', 'touch', '-h', '-d', `@${Math.floor(mtime.getTime() / 1000)}`, '{}', '+']);
  // Each checkout bootstraps with its own cache; the .deb files are shared as hard links.
  const packages = path.join(dir, 'cache', 'debian~bookworm', 'packages');
  fs.mkdirSync(packages, { recursive: true });
  const shared = path.join(TEST_CACHE, 'debian~bookworm', 'packages');
  for (const deb of fs.existsSync(shared) ? fs.readdirSync(shared).filter((file) => file.endsWith('.deb')) : []) {
    fs.linkSync(path.join(shared, deb), path.join(packages, deb));
  }
  return dir;
}

/** kiln build in a checkout, with its own cache and SOURCE_DATE_EPOCH in the environment. */
export function build(dir: string, args: readonly string[] = [], epoch = EPOCH): Promise<unknown> {
  return kilnOk(['--cache', path.join(dir, 'cache'), '--force', ...args, 'build'], { cwd: dir, env: { SOURCE_DATE_EPOCH: String(epoch) } });
}

/** SHA256SUMS of a build, as file name → digest. */
export function sums(dir: string): Map<string, string> {
  const lines = fs.readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8').trim().split('\n');
  return new Map(
    lines.map((line) => {
      const [digest, name] = line.split(/ \*?/, 2) as [string, string];
      return [name.replace(/^\*/, ''), digest];
    }),
  );
}

function partitionRegions(image: string): Region[] {
  return partitionTable(image).partitions.map((partition) => ({ name: `partition ${partition.name}`, start: partition.start * 512, end: (partition.start + partition.size) * 512 }));
}

/** Why two artifacts differ, as paths (trees, archives) or block ranges (disks). */
export async function explain(a: string, b: string): Promise<string> {
  if (fs.statSync(a).isDirectory()) return describeDifference(treeDigestLines(a), treeDigestLines(b));
  if (/\.tar(\.|$)/.test(a)) return describeDifference(await tarListing(a), await tarListing(b));
  if (a.endsWith('.raw')) return `the images differ in\n  ${blockDifferences(a, b, partitionRegions(a)).join('\n  ')}`;
  return `${path.basename(a)} differs:\n${execFileSync('diff', [a, b], { encoding: 'utf8', stdio: 'pipe' }).toString()}`;
}

/** Every file SHA256SUMS lists must be the same in both builds; a difference is explained. */
export async function expectSameSums(first: string, second: string): Promise<void> {
  const [left, right] = [sums(first), sums(second)];
  expect([...right.keys()].sort()).toEqual([...left.keys()].sort());
  const differing = [...left].filter(([name, digest]) => right.get(name) !== digest).map(([name]) => name);
  const why = await Promise.all(differing.map(async (name) => `${name}: ${await explain(path.join(first, name), path.join(second, name))}`));
  expect(differing, `SHA256SUMS differ for ${differing.join(', ')}:\n${why.join('\n')}`).toEqual([]);
}

/** The JSON manifest of the image `image` (not in SHA256SUMS, as in mkosi 14) is the same file too. */
export function expectSameManifest(first: string, second: string, image: string): void {
  const name = `${image}.manifest`;
  const result = spawnSync('cmp', [path.join(first, name), path.join(second, name)], { encoding: 'utf8' });
  expect(result.status, `cmp ${name}: ${result.stdout}${result.stderr}`).toBe(0);
}

/** What a reproducible build removes (mmdebstrap's cleanup and debootstrap's log): none may be in an archive's member list. */
export const BUILD_RECORD = /^\.\/var\/log\/(dpkg\.log|alternatives\.log|bootstrap\.log|apt\/.+\.log(\.xz)?)$|aux-cache$|^\.\/var\/cache\/apt\/.+\.bin$|^\.\/var\/lib\/apt\/lists\/(.+_|auxfiles)/;
