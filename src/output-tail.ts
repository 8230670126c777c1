/**
 * What a command prints, kept for its error message: only the last lines, each cut to a bounded
 * length, so kiln's memory never depends on what a tool prints (apt's progress, a build script's
 * hundreds of MiB of compiler warnings, a progress bar that never ends its line). Only the tail is
 * ever shown, and a tool's whole output was never worth holding: with --debug=run it goes to the
 * terminal as it comes.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

/** How many lines a failed command's error shows. */
export const TAIL_LINES = 200;
/** A longer line (or output without newlines at all) is cut here. */
export const LINE_LIMIT = 16 * 1024;
const CUT = ' …';

/** Messages tools print that mean nothing to the user (nspawn without systemd as PID 1). */
const NOISE = [/^Attempted to remove disk file system under "\/run\/systemd\/nspawn\/propagate\/.*", and we can't allow that\.$/];

export function isNoise(line: string): boolean {
  return NOISE.some((pattern) => pattern.test(line.trim()));
}

export class OutputTail {
  /** A ring: `lines[next]` is the oldest once it is full. */
  private readonly lines: string[] = [];
  private next = 0;
  /** Seen anywhere in the output, not only in its tail (apt goes on printing after dpkg failed). */
  noSpace = false;

  /** `onLine` sees every line as it comes (a build script's output shown live), noise left out. */
  constructor(private readonly onLine?: (line: string) => void) {}

  /**
   * Reads a stream to its end (the reading is what lets the child go on writing). stdout and stderr
   * can both be followed: their lines are interleaved as they come.
   */
  follow(stream: Readable | null | undefined): void {
    if (!stream) return;
    const decoder = new StringDecoder('utf8');
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const text = decoder.write(chunk);
      let start = 0;
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
        this.add(partial + text.slice(start, Math.min(end, start + LINE_LIMIT + 1)));
        partial = '';
        start = end + 1;
      }
      // Up to one character past the limit, which is how add() knows the line was cut.
      if (partial.length <= LINE_LIMIT) partial += text.slice(start, start + LINE_LIMIT - partial.length + 1);
    });
    stream.on('end', () => {
      const rest = partial + decoder.end();
      if (rest !== '') this.add(rest);
    });
  }

  private add(raw: string): void {
    const line = raw.length > LINE_LIMIT ? raw.slice(0, LINE_LIMIT) + CUT : raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (isNoise(line)) return;
    if (line.includes('No space left on device')) this.noSpace = true;
    this.onLine?.(line);
    if (this.lines.length < TAIL_LINES) this.lines.push(line);
    else {
      this.lines[this.next] = line;
      this.next = (this.next + 1) % TAIL_LINES;
    }
  }

  /** The last lines, oldest first. */
  text(): string {
    return [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)].join('\n');
  }
}
