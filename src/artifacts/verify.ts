/**
 * Checking built artifacts the way whoever pulls them will: every file in SHA256SUMS against its
 * hash (read streaming), every file systemd-pull would fetch beside an image listed in SHA256SUMS
 * (it refuses the download otherwise), and SHA256SUMS.gpg with gpg — against a given public keyring
 * exactly as systemd-pull calls it, or against the user's own keyring.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { run } from '../run.js';
import { stripSuffixes } from './names.js';
import { gnupgHome, parseStatus, type StatusLine } from './sign.js';

export const CHECKSUM_FILE = 'SHA256SUMS';
export const SIGNATURE_FILE = 'SHA256SUMS.gpg';

export interface Sha256Entry {
  readonly sha256: string;
  readonly name: string;
  /** 1-based line in SHA256SUMS. */
  readonly line: number;
}

/**
 * Reads `<sha256> *<name>` (binary) and `<sha256>  <name>` (text) lines, the two forms systemd's
 * importer accepts. Names must be plain file names: SHA256SUMS describes one directory.
 */
export function parseSha256Sums(text: string): { entries: Sha256Entry[]; problems: string[] } {
  const entries: Sha256Entry[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (content.trim() === '') return;
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(content);
    if (!match) {
      problems.push(`${CHECKSUM_FILE} line ${line}: not a "<sha256> *<file>" line`);
      return;
    }
    const name = match[2]!;
    if (name.includes('/') || name === '.' || name === '..' || name.includes('\0')) {
      problems.push(`${CHECKSUM_FILE} line ${line}: "${name}" is not a file name in this directory`);
      return;
    }
    if (seen.has(name)) {
      problems.push(`${CHECKSUM_FILE} line ${line}: ${name} is listed twice`);
      return;
    }
    seen.add(name);
    entries.push({ sha256: match[1]!.toLowerCase(), name, line });
  });
  return { entries, problems };
}

/** What systemd-pull fetches beside an image and checks against SHA256SUMS (systemd 252). */
export const PULLED_SIDECARS = ['.nspawn', '.roothash', '.roothash.p7s', '.verity'];

/**
 * Files present in the directory that systemd-pull would fetch with a listed image but that
 * SHA256SUMS does not list: it refuses the whole download then ("Checksum of image.nspawn file
 * did not check out").
 */
export function unlistedSidecars(listed: readonly string[], present: ReadonlySet<string>): { sidecar: string; image: string }[] {
  const names = new Set(listed);
  const found: { sidecar: string; image: string }[] = [];
  for (const image of listed) {
    if (PULLED_SIDECARS.some((suffix) => image.endsWith(suffix))) continue;
    for (const suffix of PULLED_SIDECARS) {
      const sidecar = `${stripSuffixes(image)}${suffix}`;
      if (sidecar !== image && present.has(sidecar) && !names.has(sidecar) && !found.some((f) => f.sidecar === sidecar)) {
        found.push({ sidecar, image });
      }
    }
  }
  return found;
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export interface VerifyOptions {
  /** A binary public keyring (what /etc/systemd/import-pubring.gpg holds); else the user's own keyring. */
  readonly keyring?: string;
  /** SHA256SUMS.gpg must exist (a keyring was given, or the configuration says Sign=yes). */
  readonly requireSignature: boolean;
  /** How to show a file name (relative to the working directory). */
  readonly display: (file: string) => string;
}

export interface VerifyReport {
  readonly ok: string[];
  readonly problems: string[];
}

export async function verifyArtifacts(directory: string, options: VerifyOptions): Promise<VerifyReport> {
  const ok: string[] = [];
  const problems: string[] = [];
  const sumsFile = path.join(directory, CHECKSUM_FILE);
  const text = await fs.readFile(sumsFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) {
    problems.push(`${options.display(sumsFile)}: no such file (build with Checksum=yes)`);
    return { ok, problems };
  }
  const parsed = parseSha256Sums(text);
  problems.push(...parsed.problems);
  if (parsed.entries.length === 0 && parsed.problems.length === 0) problems.push(`${CHECKSUM_FILE}: lists no files`);

  for (const entry of parsed.entries) {
    const file = path.join(directory, entry.name);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat) problems.push(`${entry.name}: listed in ${CHECKSUM_FILE} but missing`);
    else if (!stat.isFile()) problems.push(`${entry.name}: listed in ${CHECKSUM_FILE} but not a regular file`);
    else if ((await sha256OfFile(file)) !== entry.sha256) problems.push(`${entry.name}: SHA-256 does not match ${CHECKSUM_FILE} (the file was changed)`);
    else ok.push(`${entry.name}: OK`);
  }

  const present = new Set(await fs.readdir(directory));
  for (const { sidecar, image } of unlistedSidecars(parsed.entries.map((e) => e.name), present)) {
    problems.push(`${sidecar}: not listed in ${CHECKSUM_FILE}; systemd-pull fetches it with ${image} and refuses the download`);
  }

  const signature = path.join(directory, SIGNATURE_FILE);
  if (present.has(SIGNATURE_FILE)) {
    const result = await checkSignature(signature, sumsFile, options);
    (result.ok ? ok : problems).push(result.message);
  } else if (options.requireSignature) {
    problems.push(`${SIGNATURE_FILE}: missing, ${CHECKSUM_FILE} is not signed`);
  }
  return { ok, problems };
}

/** How systemd-pull calls gpg (pull-common.c), with the keyring it was given. */
function keyringArgv(home: string, keyring: string): string[] {
  return ['--no-options', '--homedir', home, '--no-default-keyring', '--no-auto-key-locate', '--no-auto-check-trustdb', '--trust-model=always', `--keyring=${keyring}`];
}

async function checkSignature(signature: string, sums: string, options: VerifyOptions): Promise<{ ok: boolean; message: string }> {
  let keyring: string | undefined;
  if (options.keyring !== undefined) {
    keyring = path.resolve(options.keyring);
    const problem = await keyringProblem(keyring);
    // gpg would silently create a missing keyring and then find no key in it.
    if (problem) return { ok: false, message: `${options.display(keyring)}: ${problem}` };
  }
  const home = keyring ? await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-gpg-')) : gnupgHome();
  try {
    const argv = ['gpg', '--batch', '--no-tty', ...(keyring ? keyringArgv(home, keyring) : []), '--status-fd', '1', '--verify', signature, sums];
    const result = await run(argv, { stdio: 'pipe', read: true, env: { GNUPGHOME: home }, okCodes: [1, 2], what: 'Checking SHA256SUMS.gpg' });
    const where = keyring ? options.display(keyring) : home;
    return describeVerification(parseStatus(result.stdout), result.exitCode, where);
  } finally {
    if (keyring) await fs.rm(home, { recursive: true, force: true });
  }
}

async function keyringProblem(keyring: string): Promise<string | undefined> {
  if (!existsSync(keyring)) return 'no such keyring';
  const head = Buffer.alloc(32);
  const handle = await fs.open(keyring, 'r');
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  if (head.toString('latin1').startsWith('-----BEGIN PGP')) {
    return 'the keyring is ASCII-armored; gpg --keyring and systemd-pull need the binary form (gpg --dearmor, or gpg --export without --armor)';
  }
  return undefined;
}

/** gpg's verdict in one line; gpg's exit code decides, as it does for systemd-pull. Pure. */
export function describeVerification(status: readonly StatusLine[], exitCode: number, keyring: string): { ok: boolean; message: string } {
  const find = (keyword: string) => status.find((line) => line.keyword === keyword);
  const valid = find('VALIDSIG');
  const good = find('GOODSIG') ?? find('EXPKEYSIG') ?? find('REVKEYSIG');
  if (exitCode === 0 && valid) {
    const who = good ? ` (${good.args.slice(1).join(' ')})` : '';
    const caveat = find('EXPKEYSIG') ? ', but the key has expired' : find('REVKEYSIG') ? ', but the key was revoked' : '';
    return { ok: true, message: `${SIGNATURE_FILE}: good signature by ${valid.args[0]}${who}${caveat}` };
  }
  if (find('BADSIG')) return { ok: false, message: `${SIGNATURE_FILE}: BAD signature: ${CHECKSUM_FILE} was changed after it was signed` };
  const missingKey = find('NO_PUBKEY') ?? (find('ERRSIG')?.args[5] === '9' ? find('ERRSIG') : undefined);
  if (missingKey) return { ok: false, message: `${SIGNATURE_FILE}: signed by key ${missingKey.args[0]}, which is not in ${keyring}` };
  if (find('NODATA')) return { ok: false, message: `${SIGNATURE_FILE}: not an OpenPGP signature` };
  if (find('ERRSIG')) return { ok: false, message: `${SIGNATURE_FILE}: gpg cannot check the signature (ERRSIG ${find('ERRSIG')!.args.join(' ')})` };
  return { ok: false, message: `${SIGNATURE_FILE}: gpg did not accept the signature (exit code ${exitCode})` };
}
