/**
 * Extended attributes of a whole tree, read by one `getfattr` process: Node has no getxattr, and one
 * process for the tree costs about as much as one per file would cost for ten files (34 ms for a
 * 7,800-entry Debian root, which has two files with xattrs).
 */
import { finish, spawn } from '../run.js';
import { showPath } from '../tree/show-path.js';

/** Attributes by name, per file. Keys are paths relative to the root as latin1 strings (one char per byte). */
export type XattrMap = Map<string, Map<string, Buffer>>;

/** The key under which a path relative to the root is stored in an XattrMap. */
export function xattrKey(relative: Buffer): string {
  return relative.toString('latin1');
}

/**
 * getfattr escapes a backslash, newline, carriage return (and '=' in attribute names) as `\ooo`;
 * every other byte is printed as it is.
 */
export function unescapeGetfattr(text: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const byte = text[i]!;
    if (byte === 0x5c && i + 3 < text.length && isOctal(text[i + 1]) && isOctal(text[i + 2]) && isOctal(text[i + 3])) {
      out.push(((text[i + 1]! - 0x30) << 6) | ((text[i + 2]! - 0x30) << 3) | (text[i + 3]! - 0x30));
      i += 3;
    } else {
      out.push(byte);
    }
  }
  return Buffer.from(out);
}

function isOctal(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x37;
}

/** Splits a buffer on '\n' without decoding it (file names need not be UTF-8). */
function* lines(dump: Buffer): Generator<Buffer> {
  let start = 0;
  for (let end = dump.indexOf(0x0a, start); end !== -1; end = dump.indexOf(0x0a, start)) {
    yield dump.subarray(start, end);
    start = end + 1;
  }
  if (start < dump.length) yield dump.subarray(start);
}

const FILE_PREFIX = Buffer.from('# file: ');

/**
 * Parses the output of `getfattr -R -d -m - -e base64 --absolute-names -h ROOT`:
 * blocks of `# file: PATH` followed by `name=0sBASE64` lines. Paths are made relative to `root`;
 * values are decoded (getfattr prefixes base64 with "0s", hex with "0x", text is quoted).
 */
export function parseGetfattrDump(dump: Buffer, root: string): XattrMap {
  const result: XattrMap = new Map();
  const rootBytes = Buffer.from(root.replace(/\/+$/, ''));
  let current: Map<string, Buffer> | undefined;
  for (const line of lines(dump)) {
    if (line.length === 0) continue;
    if (line.subarray(0, FILE_PREFIX.length).equals(FILE_PREFIX)) {
      const file = unescapeGetfattr(line.subarray(FILE_PREFIX.length));
      current = new Map();
      result.set(xattrKey(relativeTo(file, rootBytes)), current);
      continue;
    }
    if (current === undefined) throw new Error(`unexpected getfattr output: ${showPath(line)}`);
    const equals = line.indexOf(0x3d);
    const name = unescapeGetfattr(equals === -1 ? line : line.subarray(0, equals)).toString('latin1');
    current.set(name, decodeValue(equals === -1 ? '' : line.subarray(equals + 1).toString('latin1')));
  }
  for (const [key, attributes] of result) if (attributes.size === 0) result.delete(key);
  return result;
}

function relativeTo(file: Buffer, root: Buffer): Buffer {
  if (file.equals(root)) return Buffer.alloc(0);
  if (file.length > root.length && file[root.length] === 0x2f && file.subarray(0, root.length).equals(root)) {
    return file.subarray(root.length + 1);
  }
  throw new Error(`getfattr reported ${showPath(file)} outside ${showPath(root)}`);
}

function decodeValue(text: string): Buffer {
  if (text.startsWith('0s')) return Buffer.from(text.slice(2), 'base64');
  if (text.startsWith('0x')) return Buffer.from(text.slice(2), 'hex');
  if (text.startsWith('"') && text.endsWith('"')) return unescapeGetfattr(Buffer.from(text.slice(1, -1), 'latin1'));
  return Buffer.from(text, 'latin1');
}

/**
 * Every extended attribute in the tree, symlinks included (-h), ACLs included (they travel as the
 * system.posix_acl_* xattrs, as GNU tar --xattrs stores them). `drop` names attributes to leave out
 * (security.selinux for TarStripSELinuxContext=).
 */
export async function readTreeXattrs(root: string, options: { drop?: readonly string[]; searchPaths?: readonly string[] } = {}): Promise<XattrMap> {
  const argv = ['getfattr', '-R', '-d', '-m', '-', '-e', 'base64', '--absolute-names', '-h', root];
  const runOptions = { what: 'Reading extended attributes', env: { LC_ALL: 'C' }, searchPaths: options.searchPaths };
  // Collected as bytes: run() would decode the output as UTF-8, and file names need not be UTF-8.
  const child = spawn(argv, { ...runOptions, stdout: 'pipe' });
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  await finish(child, argv, runOptions);
  const map = parseGetfattrDump(Buffer.concat(chunks), root);
  for (const [key, attributes] of map) {
    for (const name of options.drop ?? []) attributes.delete(name);
    if (attributes.size === 0) map.delete(key);
  }
  return map;
}
