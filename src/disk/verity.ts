/**
 * Verity= (mkosi 14): a dm-verity hash tree of the root (or /usr) file system image, made with
 * `veritysetup format` on the plain image file (no device-mapper needed to make one), and for
 * Verity=signed a PKCS#7 signature of the root hash, made with `openssl smime` as mkosi 14 makes it
 * with python-cryptography: detached, DER, SHA-256, without certificates or signed attributes.
 *
 * The partition UUIDs follow the Discoverable Partitions Specification, so that systemd finds the
 * pair by the root hash alone (roothash= on the kernel command line): the data partition takes the
 * first 128 bits of the hash, the verity partition the last 128; the signature partition the first
 * 128 bits of SHA-256(root hash ‖ SHA-256 of the certificate), as mkosi 14 derives it.
 */
import { createHash, createHmac, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ToolError, UserError } from '../errors.js';
import { keyPairProblems } from '../boot/secure-boot-key.js';
import { run } from '../run.js';

export interface VerityResult {
  /** The root hash, 64 hex digits for SHA-256. */
  readonly rootHash: string;
  /** The hash tree, made beside the image. */
  readonly hashImage: string;
}

export interface RootHashSignature {
  /** The DER PKCS#7 signature (the .roothash.p7s file). */
  readonly der: Buffer;
  /** The contents of the signature partition: JSON with rootHash, certificateFingerprint, signature. */
  readonly partition: Buffer;
  readonly partitionUuid: string;
}

/** 32 hex digits as a UUID, byte for byte (no version bits: the specification takes the hash as it is). */
export function hexToUuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export function dataPartitionUuid(rootHash: string): string {
  return hexToUuid(rootHash.slice(0, 32));
}

export function verityPartitionUuid(rootHash: string): string {
  return hexToUuid(rootHash.slice(-32));
}

/**
 * Makes the hash tree of `image` in `hashImage` and returns the root hash. With a seed (reproducible
 * builds) the salt and the verity superblock's UUID derive from it; veritysetup picks random ones otherwise.
 */
export async function formatVerity(image: string, hashImage: string, options: { seed?: string; searchPaths?: readonly string[] } = {}): Promise<VerityResult> {
  const seeded =
    options.seed === undefined
      ? []
      : [
          `--salt=${createHmac('sha256', options.seed).update('verity-salt').digest('hex')}`,
          `--uuid=${hexToUuid(createHmac('sha256', options.seed).update('verity-uuid').digest('hex'))}`,
        ];
  const argv = ['veritysetup', 'format', ...seeded, image, hashImage];
  const { stdout } = await run(argv, { read: true, what: 'Making the verity hash tree of the root file system', searchPaths: options.searchPaths });
  const rootHash = /^Root hash:\s+([0-9a-f]{64})\s*$/m.exec(stdout)?.[1];
  if (rootHash === undefined) throw new ToolError(argv, 'veritysetup format printed no SHA-256 root hash', { stderrTail: stdout.slice(-500) });
  return { rootHash, hashImage };
}

/** The key and certificate problems Verity=signed would meet, as one-line messages. */
export function signingProblems(key: string | null, certificate: string | null): Promise<string[]> {
  return keyPairProblems('Verity=signed', key, certificate);
}

/**
 * Signs the root hash with the key and certificate (paths: the key itself never reaches a command
 * line). The signed data is the hash in hex, without a newline, as mkosi 14 and systemd have it.
 */
export async function signRootHash(
  rootHash: string,
  key: string,
  certificate: string,
  scratch: string,
  searchPaths: readonly string[] = [],
): Promise<RootHashSignature> {
  const data = path.join(scratch, 'roothash.txt');
  const der = path.join(scratch, 'roothash.p7s');
  await fs.writeFile(data, rootHash, { mode: 0o600 });
  const argv = ['openssl', 'smime', '-sign', '-binary', '-noattr', '-nocerts', '-md', 'sha256', '-in', data, '-signer', certificate, '-inkey', key, '-outform', 'DER', '-out', der];
  try {
    await run(argv, { what: 'Signing the verity root hash (Verity=signed)', searchPaths });
  } catch (error) {
    if (error instanceof ToolError) {
      throw new UserError(`Verity=signed: openssl could not sign with SecureBootKey=${key} and SecureBootCertificate=${certificate} (exit ${error.code ?? '?'})`, {
        hint: 'the key must be an unencrypted PEM private key that matches the certificate',
      });
    }
    throw error;
  }
  const signature = await fs.readFile(der);
  const fingerprint = new X509Certificate(await fs.readFile(certificate)).fingerprint256.replaceAll(':', '').toLowerCase();
  const partition = Buffer.from(JSON.stringify({ rootHash, certificateFingerprint: fingerprint, signature: signature.toString('base64') }));
  const uuidHash = createHash('sha256').update(Buffer.from(rootHash, 'hex')).update(Buffer.from(fingerprint, 'hex')).digest('hex');
  return { der: signature, partition, partitionUuid: hexToUuid(uuidHash.slice(0, 32)) };
}
