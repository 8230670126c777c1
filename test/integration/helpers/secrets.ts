/**
 * The secrets audit: secret files that each carry a random marker, and the places the markers must
 * never turn up (files, streams, the command lines of every process on the machine).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

export interface Marker {
  /** What it stands for: "mkosi.rootpw", "the gpg secret key". */
  readonly what: string;
  readonly bytes: Buffer;
}

export function newMarker(): string {
  return `kilnleak${randomBytes(12).toString('hex')}`;
}

/** Which markers occur in a byte stream (read once, markers split across chunks included). */
export async function markersInStream(stream: Readable, markers: readonly Marker[]): Promise<string[]> {
  const found = new Set<string>();
  const overlap = Math.max(...markers.map((marker) => marker.bytes.length)) - 1;
  let tail = Buffer.alloc(0);
  for await (const chunk of stream) {
    const window = Buffer.concat([tail, chunk as Buffer]);
    for (const marker of markers) if (window.includes(marker.bytes)) found.add(marker.what);
    tail = window.subarray(Math.max(0, window.length - overlap));
  }
  return [...found];
}

export function markersInText(text: string | Buffer, markers: readonly Marker[]): string[] {
  const haystack = Buffer.isBuffer(text) ? text : Buffer.from(text);
  return markers.filter((marker) => haystack.includes(marker.bytes)).map((marker) => marker.what);
}

export function markersInFile(file: string, markers: readonly Marker[]): Promise<string[]> {
  return markersInStream(createReadStream(file), markers);
}

/**
 * Reads /proc/PID/cmdline of every process on the machine, over and over, until stopped: what any
 * user sees with ps. It misses processes that live shorter than a round (strace catches those);
 * it sees what a process makes of its command line after it started.
 */
export function sampleCommandLines(): { stop(): Promise<{ lines: Set<string>; rounds: number }> } {
  const lines = new Set<string>();
  let running = true;
  let rounds = 0;
  const loop = (async () => {
    while (running) {
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        try {
          lines.add(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
        } catch {
          // gone meanwhile
        }
      }
      rounds++;
      // A round reads every process on the machine (about 10 ms of CPU with a hundred of them), so
      // rounds are 100 ms apart: every execve's arguments are strace's part; this catches the
      // rewrites of a command line after it started, which only processes that stay do (the
      // postinst's systemd-nspawn, the shortest the check below wants seen, lives longer).
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { lines, rounds };
    },
  };
}

/** The private scalar of every secret key in a GnuPG home (private-keys-v1.d, extended key format), as hex and as bytes. */
export async function gpgSecretMarkers(home: string): Promise<Marker[]> {
  const markers: Marker[] = [];
  const directory = path.join(home, 'private-keys-v1.d');
  for (const file of await fs.readdir(directory)) {
    const text = await fs.readFile(path.join(directory, file), 'latin1');
    const d = /\(d\s+#([0-9A-Fa-f]+)#\)/.exec(text)?.[1];
    if (!d) throw new Error(`no secret scalar in ${file}`);
    markers.push({ what: `gpg secret key ${file} (hex)`, bytes: Buffer.from(d) });
    markers.push({ what: `gpg secret key ${file} (hex, lower case)`, bytes: Buffer.from(d.toLowerCase()) });
    markers.push({ what: `gpg secret key ${file} (bytes)`, bytes: Buffer.from(d, 'hex') });
  }
  return markers;
}
