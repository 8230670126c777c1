/**
 * Unpacks a skeleton or extra tree given as a tar archive (mkosi.skeleton.tar, mkosi.extra.tar) into
 * the image. Owners and modes come from the archive, as with mkosi 14's unpack. Entries with absolute
 * names or `..` are refused, and every write is resolved inside the image root.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { UserError } from '../errors.js';
import { finish, run, spawn } from '../run.js';
import { mkdirInRoot, resolveInRoot, targetInRoot } from './safe-path.js';

/** Checks an archive member name; returns it without a leading "./". */
export function checkMemberName(archive: string, name: string): string {
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (name.startsWith('/') || parts.includes('..')) {
    throw new UserError(`${archive}: member "${name}" would land outside the image (absolute or ".." path)`, {
      hint: 'tar archives used as trees must hold relative paths without ".."',
    });
  }
  return parts.join('/');
}

const DECOMPRESSORS: readonly { magic: number[]; argv: string[] }[] = [
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], argv: ['xz', '-dc'] },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], argv: ['zstd', '-dcq'] },
  { magic: [0x42, 0x5a, 0x68], argv: ['bzip2', '-dc'] },
];

async function openArchive(archive: string): Promise<{ stream: Readable; done: () => Promise<void> }> {
  const handle = await fs.open(archive, 'r');
  const head = Buffer.alloc(8);
  await handle.read(head, 0, 8, 0);
  await handle.close();
  if (head[0] === 0x1f && head[1] === 0x8b) {
    return { stream: createReadStream(archive).pipe(createGunzip()), done: async () => undefined };
  }
  const decompressor = DECOMPRESSORS.find((d) => d.magic.every((byte, i) => head[i] === byte));
  if (!decompressor) return { stream: createReadStream(archive), done: async () => undefined };
  const argv = [...decompressor.argv, archive];
  const child = spawn(argv, { what: `Decompressing ${archive}`, stdout: 'pipe' });
  const out = new PassThrough();
  child.stdout!.pipe(out);
  return { stream: out, done: () => finish(child, argv, { what: `Decompressing ${archive}` }) };
}

export async function unpackTarIntoRoot(archive: string, root: string): Promise<void> {
  const extract = tar.extract();
  const { stream, done } = await openArchive(archive);
  const unpacking = (async () => {
    for await (const entry of extract) {
      const header = entry.header;
      const name = checkMemberName(archive, header.name);
      if (name === '') {
        entry.resume();
        continue;
      }
      const mode = (header.mode ?? 0o644) & 0o7777;
      if (header.type === 'directory') {
        const target = await mkdirInRoot(root, name, mode);
        await fs.chmod(target, mode);
        await fs.chown(target, header.uid ?? 0, header.gid ?? 0);
        entry.resume();
        continue;
      }
      const target = await targetInRoot(root, name);
      await fs.rm(target, { force: true });
      if (header.type === 'file' || header.type === 'contiguous-file') {
        await pipeline(entry, (await fs.open(target, 'wx', mode)).createWriteStream());
        await fs.chmod(target, mode);
        await fs.chown(target, header.uid ?? 0, header.gid ?? 0);
        if (header.mtime) await fs.utimes(target, header.mtime, header.mtime);
        continue;
      }
      entry.resume();
      if (header.type === 'symlink') {
        await fs.symlink(header.linkname ?? '', target);
        await fs.lchown(target, header.uid ?? 0, header.gid ?? 0);
      } else if (header.type === 'link') {
        const linked = await resolveInRoot(root, checkMemberName(archive, header.linkname ?? ''), false);
        await fs.link(linked, target);
      } else if (header.type === 'character-device' || header.type === 'block-device' || header.type === 'fifo') {
        const kind = header.type === 'fifo' ? ['p'] : [header.type === 'character-device' ? 'c' : 'b', String(header.devmajor ?? 0), String(header.devminor ?? 0)];
        await run(['mknod', '-m', mode.toString(8), target, ...kind], { what: `Unpacking ${path.basename(archive)}` });
        await fs.chown(target, header.uid ?? 0, header.gid ?? 0);
      }
    }
  })();
  const stop = (error: unknown): never => {
    stream.destroy();
    extract.destroy();
    throw error;
  };
  // Wait for all three so that no rejection is left unhandled; report the unpacking error first.
  const results = await Promise.allSettled([unpacking.catch(stop), pipeline(stream, extract), done()]);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}
