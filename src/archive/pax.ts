/**
 * POSIX pax extended headers (typeflag 'x'), encoded by kiln rather than by tar-stream: tar-stream
 * builds its pax records from JavaScript strings through UTF-8, which corrupts binary xattr values
 * such as security.capability, and it cannot carry file names that are not valid UTF-8. Here every
 * record is bytes, and each record's length prefix counts bytes.
 */

const BLOCK = 512;

/** One `key=value` record; the value is raw bytes (xattrs) or text (paths, numbers). */
export type PaxRecord = readonly [key: string, value: Buffer | string];

/** `"<length> <key>=<value>\n"`, where length counts every byte of the record including itself. */
export function encodePaxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), Buffer.from('\n')]);
  // The prefix counts its own digits, which can carry the total into one more digit (98 + 2 → 101).
  let length = body.length + String(body.length).length;
  while (body.length + String(length).length !== length) length = body.length + String(length).length;
  return Buffer.concat([Buffer.from(String(length), 'ascii'), body]);
}

/**
 * The keyword under which GNU tar and star store an xattr. GNU tar percent-encodes '%' and '=' in
 * the attribute name (xattr_encode_keyword) because '=' ends the keyword.
 */
export function xattrKeyword(name: string): string {
  return `SCHILY.xattr.${name.replaceAll('%', '%25').replaceAll('=', '%3D')}`;
}

export function encodePaxBody(records: readonly PaxRecord[]): Buffer {
  return Buffer.concat(records.map(([key, value]) => encodePaxRecord(key, value)));
}

/**
 * The complete extended header entry: a ustar block of type 'x' followed by the records padded to
 * a block boundary. `name` is informational only (readers ignore it); GNU tar uses
 * `<dir>/PaxHeaders/<file>`.
 */
export function paxHeaderEntry(name: string, records: readonly PaxRecord[], mtime: number): Buffer {
  const body = encodePaxBody(records);
  const padding = (BLOCK - (body.length % BLOCK)) % BLOCK;
  return Buffer.concat([ustarBlock({ name, size: body.length, mtime, typeflag: 'x' }), body, Buffer.alloc(padding)]);
}

interface BlockFields {
  readonly name: string;
  readonly size: number;
  readonly mtime: number;
  readonly typeflag: string;
}

/** A minimal ustar header block (mode 0644, owner 0:0), enough for an extended header entry. */
export function ustarBlock(fields: BlockFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(asciiPrefix(fields.name, 100), 0, 'ascii');
  writeOctal(block, 100, 8, 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, Math.max(0, Math.min(fields.mtime, 0o77777777777)));
  block.write(fields.typeflag, 156, 'ascii');
  block.write('ustar\u000000', 257, 'binary');
  // The checksum is computed with its own field read as eight spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'binary');
  return block;
}

/** Zero-padded octal number terminated by NUL, filling `width` bytes at `offset`. */
function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new RangeError(`${value} does not fit a ${width}-byte tar field`);
  block.write(`${digits.padStart(width - 1, '0')}\u0000`, offset, 'ascii');
}

/** The name reduced to printable ASCII, at most `max` bytes (the full name is in the records). */
export function asciiPrefix(name: string, max: number): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(0, max);
}
