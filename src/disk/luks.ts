/**
 * Encrypt= (mkosi 14): LUKS2 on the partitions mkosi 14 encrypts — with `all` the root and every
 * data partition (/home, /srv, /var, /var/tmp), with `data` those but the root; never swap, the ESP
 * or verity data. mkosi 14 formatted a loop partition and wrote through dm-crypt; kiln has neither
 * loop devices nor device-mapper, so it makes the file system image first and then lets cryptsetup
 * encrypt that file in place (`reencrypt --encrypt --force-offline-reencrypt`, which needs no
 * device-mapper), the LUKS2 header taking the first 16 MiB the image was grown by.
 *
 * The passphrase is mkosi.passphrase in the configuration directory, handed to cryptsetup as a key
 * file (its exact bytes, as mkosi 14 passes it), so that it never appears on a command line or in a
 * log. The key-derivation parameters are mkosi 14's, cheap enough for a 1 GiB virtual machine.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { run } from '../run.js';
import { MiB, type PartitionRole } from './layout.js';

/** What the LUKS2 header takes from each encrypted partition (mkosi 14's luks_extra). */
export const LUKS_HEADER_SIZE = 16 * MiB;
export const PASSPHRASE_FILE = 'mkosi.passphrase';

/** Whether the partition of `role` is encrypted with this configuration. */
export function isEncrypted(config: Pick<Config, 'Encrypt'>, role: PartitionRole): boolean {
  if (config.Encrypt === null) return false;
  if (role === 'home' || role === 'srv' || role === 'var' || role === 'tmp') return true;
  return role === 'root' && config.Encrypt === 'all';
}

/** The passphrase file of a configuration directory. */
export function passphraseFile(directory: string): string {
  return path.join(directory, PASSPHRASE_FILE);
}

/** Problems with Encrypt= that make the build impossible, as one-line messages (checked before the build). */
export async function encryptionProblems(config: Pick<Config, 'Encrypt' | 'Verity' | 'Format'>, directory: string): Promise<string[]> {
  if (config.Encrypt === null) return [];
  const problems: string[] = [];
  // mkosi 14's refusals, in its words' sense.
  if (config.Encrypt === 'data' && config.Format === 'gpt_btrfs') problems.push("Encrypt=data is not possible with gpt_btrfs, which has no data partitions: use Encrypt=all");
  if (config.Encrypt === 'all' && config.Verity !== false) problems.push('Encrypt=all cannot be combined with Verity= (as in mkosi 14): use Encrypt=data');
  const file = passphraseFile(directory);
  const stat = await fs.stat(file).catch(() => undefined);
  if (stat === undefined || !stat.isFile()) {
    problems.push(`Encrypt=${config.Encrypt} needs the LUKS passphrase in ${file} (kiln builds without asking; chmod 600 it)`);
  } else if (stat.size === 0) {
    problems.push(`Encrypt=${config.Encrypt}: ${file} is empty`);
  }
  return problems;
}

/**
 * Encrypts the file-system image `image` in place: grows it by the header, and cryptsetup moves the
 * data behind a new LUKS2 header while encrypting it. The file ends LUKS_HEADER_SIZE larger.
 */
export async function encryptImage(image: string, keyFile: string, what: string, searchPaths: readonly string[] = []): Promise<void> {
  const { size } = await fs.stat(image);
  await fs.truncate(image, size + LUKS_HEADER_SIZE);
  await run(
    [
      'cryptsetup',
      'reencrypt',
      '--encrypt',
      '--type',
      'luks2',
      '--force-offline-reencrypt',
      `--reduce-device-size=${LUKS_HEADER_SIZE / MiB}M`,
      '--batch-mode',
      '--key-file',
      keyFile,
      '--pbkdf-memory=64',
      '--pbkdf-parallel=1',
      '--pbkdf-force-iterations=1000',
      image,
    ],
    { what: `Encrypting ${what} with LUKS2`, searchPaths },
  );
}
