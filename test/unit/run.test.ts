/**
 * What run() keeps of a command's output: the last lines for the error, in memory that does not
 * grow with what the tool prints; the whole output only where kiln reads it. Real processes (sh,
 * yes, head), and this process's own peak RSS, from the kernel.
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ToolError } from '../../src/errors.js';
import { LINE_LIMIT, OutputTail, TAIL_LINES } from '../../src/output-tail.js';
import { run } from '../../src/run.js';

const MiB = 1024 * 1024;

/** Peak resident memory of this process since the last reset, in bytes. */
function peakRss(): number {
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
}

function resetPeakRss(): void {
  // Linux: 5 resets VmHWM to the current RSS (proc(5), clear_refs).
  writeFileSync('/proc/self/clear_refs', '5');
}

async function failure(promise: Promise<unknown>): Promise<ToolError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ToolError);
  return error as ToolError;
}

describe('run() output capture', () => {
  it('keeps the last lines of a tool that prints 200 MiB, in memory independent of it', async () => {
    const line = 'line of a chatty tool, printed again and again';
    const count = Math.ceil((200 * MiB) / (line.length + 1));
    const script = `yes '${line}' | head -n ${count}; echo 'the actual problem'; exit 3`;
    resetPeakRss();
    const before = peakRss();
    const error = await failure(run(['sh', '-c', script], { what: 'Chatting' }));
    const grown = peakRss() - before;
    expect(error.message).toMatch(/^Chatting: sh -c '.*' exited with code 3$/s);
    expect(error.stderrTail).toBe([...Array(TAIL_LINES - 1).fill(line), 'the actual problem'].join('\n'));
    // Holding the output (as execa's buffers did, stdout and stdout+stderr) takes twice the output.
    expect(grown, `peak RSS grew by ${Math.round(grown / MiB)} MiB`).toBeLessThan(64 * MiB);
  }, 120_000);

  it('cuts a line that never ends, and still ends the capture', async () => {
    const error = await failure(run(['sh', '-c', `head -c ${64 * MiB} /dev/zero | tr '\\0' x; exit 1`]));
    expect(error.stderrTail).toBe(`${'x'.repeat(LINE_LIMIT)} …`);
  }, 60_000);

  it('cuts a long line whatever the size of the pieces it arrives in', async () => {
    // Pieces of 4 KiB (a loaded machine's pipe reads) once left the line exactly at the limit, uncut.
    const tail = new OutputTail();
    const pieces = Array.from({ length: (2 * LINE_LIMIT) / 4096 }, () => Buffer.alloc(4096, 'x'));
    const stream = Readable.from([...pieces, Buffer.from('\nnext\n')]);
    tail.follow(stream);
    await once(stream, 'end');
    expect(tail.text()).toBe(`${'x'.repeat(LINE_LIMIT)} …\nnext`);
  });

  it('names running out of space even when the message is long past the tail', async () => {
    const script = `echo 'dpkg: error: No space left on device'; seq 1 ${TAIL_LINES * 5}; exit 2`;
    const error = await failure(run(['sh', '-c', script], { what: 'Installing packages' }));
    expect(error.message).toBe('Installing packages: no space left on device');
    expect(error.stderrTail.split('\n')).toEqual(Array.from({ length: 20 }, (_, i) => String(TAIL_LINES * 5 - 19 + i)));
  });

  it('shows each line live to onOutput, stdout and stderr, without nspawn\'s noise', async () => {
    const seen: string[] = [];
    const noise = 'Attempted to remove disk file system under "/run/systemd/nspawn/propagate/x", and we can\'t allow that.';
    await run(['sh', '-c', 'echo one; echo "$NOISE" >&2; printf "two\\r\\nthree"'], { env: { NOISE: noise }, onOutput: (line) => seen.push(line) });
    expect(seen).toEqual(['one', 'two', 'three']);
  });

  it('returns the whole output only where kiln reads it', async () => {
    const result = await run(['sh', '-c', `head -c ${4 * MiB} /dev/zero | tr '\\0' y; echo; echo warning >&2`], { read: true });
    expect(result.stdout).toBe('y'.repeat(4 * MiB));
    expect(result.stderr).toBe('warning');
    const plain = await run(['sh', '-c', 'echo kept nowhere']);
    expect(plain).toEqual({ exitCode: 0 });
  });

  it('redacts secrets from the tail', async () => {
    const error = await failure(run(['sh', '-c', 'echo "password is hunter2"; exit 1'], { secrets: ['hunter2'] }));
    expect(error.stderrTail).toBe('password is (secret)');
  });
});
