/**
 * SHA-512 crypt ("$6$", Ulrich Drepper's specification), the hash /etc/shadow uses. Computed in
 * process so the root password never appears in a command line, a log or a pipe to another program.
 */
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DEFAULT_ROUNDS = 5000;

function sha512(...parts: Buffer[]): Buffer {
  const hash = createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** `length` bytes of `source`, repeated as needed (the spec's "for each block of 64 bytes" steps). */
function repeatTo(source: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += source.length) source.copy(out, i, 0, Math.min(source.length, length - i));
  return out;
}

function encode64(bytes: Buffer, a: number, b: number, c: number, n: number): string {
  let w = (bytes[a]! << 16) | (bytes[b]! << 8) | bytes[c]!;
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ALPHABET[w & 0x3f];
    w >>= 6;
  }
  return out;
}

/** The spec's final byte permutation for SHA-512. */
const ORDER: readonly [number, number, number][] = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

export function sha512Crypt(password: string, salt?: string, rounds = DEFAULT_ROUNDS): string {
  const key = Buffer.from(password, 'utf8');
  const saltText = (salt ?? randomSalt()).slice(0, 16);
  const saltBytes = Buffer.from(saltText, 'utf8');
  const r = Math.min(999_999_999, Math.max(1000, rounds));

  const b = sha512(key, saltBytes, key);
  const aHash = createHash('sha512').update(key).update(saltBytes).update(repeatTo(b, key.length));
  for (let i = key.length; i > 0; i >>= 1) aHash.update(i & 1 ? b : key);
  const a = aHash.digest();

  const dp = repeatTo(sha512(...Array<Buffer>(key.length).fill(key)), key.length);
  const ds = repeatTo(sha512(...Array<Buffer>(16 + a[0]!).fill(saltBytes)), saltBytes.length);

  let c = a;
  for (let i = 0; i < r; i++) {
    const hash = createHash('sha512');
    hash.update(i & 1 ? dp : c);
    if (i % 3) hash.update(ds);
    if (i % 7) hash.update(dp);
    hash.update(i & 1 ? c : dp);
    c = hash.digest();
  }

  const encoded = ORDER.map(([x, y, z]) => encode64(c, x, y, z, 4)).join('') + encode64(Buffer.from([0, 0, c[63]!]), 0, 1, 2, 2);
  const roundsPart = rounds === DEFAULT_ROUNDS ? '' : `rounds=${r}$`;
  return `$6$${roundsPart}${saltText}$${encoded}`;
}

function randomSalt(): string {
  return [...randomBytes(16)].map((byte) => ALPHABET[byte & 0x3f]).join('');
}
