/**
 * File names in messages. A name is bytes and may hold anything but '/' and NUL: a newline would
 * break the one-line error, and bytes that are not UTF-8 would reach the terminal as U+FFFD, hiding
 * which name is meant. Printable UTF-8 is shown as it is; control characters, backslashes and stray
 * bytes are escaped the way C and `ls -b` write them (\n, \t, \\, \xe9).
 */

const fatal = new TextDecoder('utf-8', { fatal: true });

const NAMED: Readonly<Record<number, string>> = { 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r', 0x5c: '\\\\' };

function hex(byte: number): string {
  return `\\x${byte.toString(16).padStart(2, '0')}`;
}

/** How many bytes the UTF-8 sequence starting with `lead` has; 0 for a byte that cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

function showCharacter(character: string): string {
  const code = character.codePointAt(0)!;
  if (NAMED[code] !== undefined) return NAMED[code]!;
  if (code < 0x20 || code === 0x7f) return hex(code);
  // C1 controls: as harmful to a terminal as the C0 ones.
  if (code >= 0x80 && code <= 0x9f) return `\\u${code.toString(16).padStart(4, '0')}`;
  return character;
}

/** A path or name as bytes (or an already decoded string), readable and on one line. */
export function showPath(name: Buffer | string): string {
  const bytes = typeof name === 'string' ? Buffer.from(name) : name;
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const length = sequenceLength(bytes[i]!);
    let character: string | undefined;
    if (length > 0 && i + length <= bytes.length) {
      try {
        character = fatal.decode(bytes.subarray(i, i + length));
      } catch {
        character = undefined;
      }
    }
    if (character === undefined) {
      out += hex(bytes[i]!);
      i += 1;
    } else {
      out += showCharacter(character);
      i += length;
    }
  }
  return out;
}
