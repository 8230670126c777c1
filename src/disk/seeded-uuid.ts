/**
 * UUIDs of disks, partitions and file systems. They are random by default; given a seed they are
 * derived from it, so that a reproducible build gives the same bytes twice (the approach of
 * systemd-repart --seed= and debos' uuid5).
 */
import { createHmac, randomUUID } from 'node:crypto';

/** Formats 16 bytes as a version-4, RFC 4122 variant UUID (the bits say "random", which it looks like). */
export function formatUuid(bytes: Buffer): string {
  const b = Buffer.from(bytes.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A UUID for `purpose` ("disk", "partition:root", "fs:home"…): derived from `seed` when there is one
 * (HMAC-SHA256, so different purposes never collide and the seed cannot be recovered), else random.
 */
export function makeUuid(seed: string | undefined, purpose: string): string {
  if (seed === undefined) return randomUUID();
  return formatUuid(createHmac('sha256', seed).update(purpose).digest());
}

/** The file-system UUID for a partition: derived from the seed, or undefined to let mkfs pick one. */
export function fileSystemUuid(seed: string | undefined, role: string): string | undefined {
  return seed === undefined ? undefined : makeUuid(seed, `fs:${role}`);
}
