/**
 * Reproducible builds, decided in one place. SourceDateEpoch= (or SOURCE_DATE_EPOCH in Environment=
 * or the host's environment, as modern mkosi reads it) fixes every time a build would otherwise
 * take from the clock, and the seed (Seed=, or one derived from the image's identity and the epoch)
 * fixes every UUID and hash seed it would otherwise draw at random. The build context carries both;
 * each writer takes what it needs from there, and nothing else in kiln reads the clock for an artifact.
 *
 * With an epoch:
 * - file times in the image are clamped to it (what GNU tar --clamp-mtime and mmdebstrap do), and
 *   file systems record it for every time they would take from the clock (creation, change, access);
 * - SOURCE_DATE_EPOCH is in the environment of the bootstrap tools, of every command run in the image
 *   and of the finalize script;
 * - logs and caches that record when or from which mirror state the image was built are removed.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Config } from './config/types.js';
import { ParseError } from './config/parsers.js';
import { formatUuid } from './disk/seeded-uuid.js';

export const SOURCE_DATE_EPOCH = 'SOURCE_DATE_EPOCH';

/**
 * The largest epoch kiln takes: 2^34 - 1 s (year 2514) is within what every format kiln writes can
 * record (ext4 reaches 2446 only with its extra bits, so later times are refused by mke2fs itself).
 */
const MAX_EPOCH = 2 ** 34 - 1;

/** Seconds since 1970 as reproducible-builds.org's SOURCE_DATE_EPOCH specifies: a decimal integer. */
export function parseEpoch(raw: string): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) throw new ParseError('is not a time in seconds since 1970-01-01 (a whole number, as `git log -1 --format=%ct` prints it)', { value: raw });
  const seconds = Number(text);
  if (seconds > MAX_EPOCH) throw new ParseError(`is later than any file system can record (the largest is ${MAX_EPOCH})`, { value: raw });
  return seconds;
}

/** Where an epoch nobody set in the configuration comes from: Environment= first, then kiln's own environment. */
export function inheritedEpoch(environment: Readonly<Record<string, string>>, host: Readonly<Record<string, string | undefined>>): { raw: string; from: string } | undefined {
  const own = environment[SOURCE_DATE_EPOCH];
  if (own) return { raw: own, from: 'Environment=' };
  const inherited = host[SOURCE_DATE_EPOCH];
  return inherited ? { raw: inherited, from: 'the environment' } : undefined;
}

/** A seed as Seed= takes it: a UUID (with or without dashes, any case) or `random`. */
export function parseSeed(raw: string): string {
  const text = raw.trim();
  if (text === 'random') return text;
  const digits = text.replace(/^urn:uuid:/, '').replace(/[{}-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(digits)) throw new ParseError('is not a UUID or "random"', { value: raw });
  return `${digits.slice(0, 8)}-${digits.slice(8, 12)}-${digits.slice(12, 16)}-${digits.slice(16, 20)}-${digits.slice(20)}`;
}

/** What makes one image another: two images that differ in any of these get different UUIDs. */
export type ImageIdentity = Pick<Config, 'Distribution' | 'Release' | 'Architecture' | 'Format' | 'ImageId' | 'ImageVersion' | 'Output'>;

/**
 * The seed of a reproducible build when Seed= does not give one: a UUID made from SHA-256 over the
 * image's identity — distribution, release, architecture, format, ImageId=, ImageVersion=, the file
 * name of Output= (not its directory: two checkouts must agree) — and the epoch. So rebuilding the
 * same image gives the same UUIDs, and two different images (or two versions) never share them.
 */
export function deriveSeed(identity: ImageIdentity, epoch: number): string {
  const fields = [
    'kiln seed 1',
    identity.Distribution,
    identity.Release,
    identity.Architecture,
    identity.Format,
    identity.ImageId ?? '',
    identity.ImageVersion ?? '',
    path.basename(identity.Output),
    String(epoch),
  ];
  return formatUuid(createHash('sha256').update(fields.join('\0')).digest());
}

/** What a build takes from the configuration to be reproducible: null where it is not. */
export interface Reproducibility {
  /** SOURCE_DATE_EPOCH in seconds: no time in an artifact is later, and none is taken from the clock. */
  readonly epoch: number | null;
  /** The seed UUIDs and hash seeds are derived from; null for random ones. */
  readonly seed: string | null;
}

export function reproducibilityOf(config: Pick<Config, 'SourceDateEpoch' | 'Seed'>): Reproducibility {
  return { epoch: config.SourceDateEpoch, seed: config.Seed === 'random' ? null : config.Seed };
}

/** SOURCE_DATE_EPOCH for the environment of a command that builds part of the image; empty without an epoch. */
export function epochEnvironment(epoch: number | null): Record<string, string> {
  return epoch === null ? {} : { [SOURCE_DATE_EPOCH]: String(epoch) };
}
