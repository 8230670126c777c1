/**
 * The spare of a directory output (src/cache/spare.ts): the image a build replaced, brought back to
 * exactly the cached root by the next build. Checked against the tree itself: contents, modes,
 * owners, times, links, hard links and xattrs must all be the cached root's, whatever was changed
 * in the old image — above all a file changed without changing its size or time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimSpare, keepAsSpare, KEEP_SPARES, refreshSpare, sparePath } from '../../../src/cache/spare.js';
import { RootCache } from '../../../src/cache/store.js';
import type { Config } from '../../../src/config/types.js';
import { needs } from '../../skip.js';

const skip = needs(['rsync', 'setfattr', 'getfattr']);

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-spare-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const configFor = (output: string): Config =>
  ({ Output: path.join(dir, output), Cache: path.join(dir, 'cache'), Incremental: true, Format: 'directory', ExtraSearchPaths: [] }) as unknown as Config;

const sh = (script: string): string => execFileSync('sh', ['-euc', script], { cwd: dir, encoding: 'utf8' });

/** Everything about a tree that a copy must keep, one line per entry. */
function describeTree(root: string): string {
  return sh(`cd "${root}" && find . -printf '%p %M %U:%G %s %T@ %n %l\\n' | sort && find . -type f -exec sha256sum {} + | sort && getfattr -R -d -m - --absolute-names . 2>/dev/null | sed 's/^# file: //'`);
}

describe.skipIf(skip)('the spare of a directory output', () => {
  it('is brought back to exactly the cached root, whatever changed in the old image', async () => {
    sh(`mkdir -p source/etc source/usr/bin source/private
      printf 'name-one\\n' > source/etc/hostname
      printf 'keep\\n' > source/etc/kept
      printf 'binary' > source/usr/bin/tool && chmod 4755 source/usr/bin/tool
      ln source/usr/bin/tool source/usr/bin/tool-link
      ln -s ../etc/kept source/usr/kept-link
      chown 1234:5678 source/etc/kept && chmod 700 source/private
      setfattr -n user.kiln -v cached source/etc/kept
      mkfifo source/fifo
      cp -a source previous
      printf 'name-two\\n' > previous/etc/hostname && touch -r source/etc/hostname previous/etc/hostname
      chmod 644 previous/usr/bin/tool-link && rm previous/usr/bin/tool-link && cp previous/usr/bin/tool previous/usr/bin/tool-link
      rm previous/usr/kept-link && printf 'not a link' > previous/usr/kept-link
      chown 0:0 previous/etc/kept && setfattr -n user.kiln -v changed previous/etc/kept
      chmod 755 previous/private && rm previous/fifo
      mkdir -p previous/var/log/journal && printf 'booted' > previous/var/log/journal/system.journal`);
    const config = configFor('image');
    await keepAsSpare(config, path.join(dir, 'previous'));
    expect(existsSync(path.join(dir, 'previous'))).toBe(false);

    const root = path.join(dir, 'root');
    mkdirSync(root);
    expect(await claimSpare(config, root)).toBe(true);
    expect(existsSync(sparePath(config))).toBe(false);
    expect(await refreshSpare(path.join(dir, 'source'), root, path.join(dir, 'discard'), [])).toBe(true);
    expect(describeTree(root)).toBe(describeTree(path.join(dir, 'source')));
  });

  it('belongs to one output, is kept only once, and is not claimed twice', async () => {
    const first = configFor('image');
    mkdirSync(path.join(dir, 'old-1'));
    mkdirSync(path.join(dir, 'old-2'));
    await keepAsSpare(first, path.join(dir, 'old-1'));
    // A spare is there already: the second old image stays where it is, for the workspace to delete.
    await keepAsSpare(first, path.join(dir, 'old-2'));
    expect(existsSync(path.join(dir, 'old-2'))).toBe(true);

    mkdirSync(path.join(dir, 'root-other'));
    expect(await claimSpare(configFor('other-image'), path.join(dir, 'root-other'))).toBe(false);
    mkdirSync(path.join(dir, 'root-a'));
    mkdirSync(path.join(dir, 'root-b'));
    expect(await claimSpare(first, path.join(dir, 'root-a'))).toBe(true);
    expect(await claimSpare(first, path.join(dir, 'root-b'))).toBe(false);
  });

  it('is used only for incremental directory outputs', async () => {
    for (const config of [{ ...configFor('image'), Incremental: false }, { ...configFor('image'), Format: 'tar' }] as Config[]) {
      mkdirSync(path.join(dir, 'old'));
      await keepAsSpare(config, path.join(dir, 'old'));
      expect(existsSync(path.join(dir, 'old'))).toBe(true);
      rmSync(path.join(dir, 'old'), { recursive: true });
    }
  });

  it('leaves an empty root for a plain copy when the update fails', async () => {
    const root = path.join(dir, 'root');
    mkdirSync(root);
    writeFileSync(path.join(root, 'stale'), 'x');
    expect(await refreshSpare(path.join(dir, 'no-such-source'), root, path.join(dir, 'discard'), [])).toBe(false);
    expect(readdirSync(root)).toEqual([]);
    expect(readdirSync(path.join(dir, 'discard'))).toEqual(['stale']);
  });

  it(`is evicted beyond the ${KEEP_SPARES} most recently stored`, async () => {
    const cache = new RootCache(path.join(dir, 'cache'));
    const names = ['a', 'b', 'c'].map((output, index) => {
      const spare = sparePath(configFor(output));
      mkdirSync(spare, { recursive: true });
      utimesSync(spare, 1000 + index, 1000 + index);
      return path.basename(spare);
    });
    await cache.evict();
    expect(readdirSync(cache.base).filter((name) => name.startsWith('spare-')).sort()).toEqual(names.slice(1).sort());
  });
});
