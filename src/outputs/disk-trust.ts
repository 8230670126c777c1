/**
 * What a disk image gets between its file systems and its partition table, and the files beside it
 * (mkosi 14's order): Verity= hashes the root image and signs the root hash, Encrypt= turns the
 * chosen images into LUKS2, and then SplitArtifacts= writes the partitions out as files of their own,
 * Verity= the .roothash (and .roothash.p7s) files, and BMap= the block map. Every file goes to the
 * staging directory and into SHA256SUMS, as mkosi 14 lists them.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isDiskFormat, outputCompression } from '../config/derived.js';
import type { Config } from '../config/types.js';
import type { Artifact, BuildContext } from '../context.js';
import { outputNames } from '../artifacts/names.js';
import { run } from '../run.js';
import { step } from '../log.js';
import { streamToFile } from '../util/hash-stream.js';
import { copyRange } from '../disk/assemble.js';
import type { ByteSink } from '../disk/byte-sink.js';
import { alignUp, type PartitionRole } from '../disk/layout.js';
import { encryptImage, encryptionProblems, isEncrypted, passphraseFile } from '../disk/luks.js';
import { dataPartitionUuid, formatVerity, signingProblems, signRootHash, verityPartitionUuid } from '../disk/verity.js';

export type PartitionImages = Map<PartitionRole, string>;

export interface Protection {
  readonly rootHash?: string;
  /** The DER signature of the root hash (Verity=signed). */
  readonly signature?: Buffer;
  /** Partition UUIDs that derive from the root hash (Discoverable Partitions Specification). */
  readonly uuids: ReadonlyMap<PartitionRole, string>;
}

/**
 * Verity=: the hash tree of the root image (grown first to its partition's 1 MiB size, so that the
 * hashes cover exactly the partition), and for Verity=signed the signature partition's contents.
 * Adds the 'verity' and 'signature' images.
 */
export async function protectRoot(context: BuildContext, images: PartitionImages, scratch: string, seed: string | undefined): Promise<Protection> {
  const { config } = context;
  if (config.Verity === false) return { uuids: new Map() };
  const root = images.get('root')!;
  await fs.truncate(root, alignUp((await fs.stat(root)).size));
  const { rootHash, hashImage } = await step('Making the verity hash tree of the root', () =>
    formatVerity(root, path.join(scratch, 'verity.img'), { seed, searchPaths: config.ExtraSearchPaths }),
  );
  images.set('verity', hashImage);
  const uuids = new Map<PartitionRole, string>([
    ['root', dataPartitionUuid(rootHash)],
    ['verity', verityPartitionUuid(rootHash)],
  ]);
  if (config.Verity !== 'signed') return { rootHash, uuids };
  const signed = await signRootHash(rootHash, config.SecureBootKey!, config.SecureBootCertificate!, scratch, config.ExtraSearchPaths);
  const partition = path.join(scratch, 'signature.img');
  await fs.writeFile(partition, signed.partition, { mode: 0o600 });
  images.set('signature', partition);
  uuids.set('signature', signed.partitionUuid);
  return { rootHash, signature: signed.der, uuids };
}

/** Encrypt=: each image mkosi 14 would encrypt becomes LUKS2, one after the other (cryptsetup is I/O-bound). */
export async function encryptImages(context: BuildContext, images: PartitionImages): Promise<void> {
  const { config } = context;
  const roles = [...images.keys()].filter((role) => isEncrypted(config, role));
  if (roles.length === 0) return;
  await step(`Encrypting with LUKS2 (${roles.map((r) => (r === 'tmp' ? '/var/tmp' : r === 'root' ? 'the root' : `/${r}`)).join(', ')})`, async () => {
    for (const role of roles) {
      await encryptImage(images.get(role)!, passphraseFile(context.directory), role === 'root' ? 'the root partition' : `the ${role} partition`, config.ExtraSearchPaths);
    }
  });
}

/** Sizes of the images the partitions must hold, padded by the encryption header where it applies. */
export async function imageSize(images: PartitionImages, role: PartitionRole): Promise<number> {
  const image = images.get(role);
  if (image === undefined) throw new Error(`internal: no image for the ${role} partition, whose size it decides`);
  return (await fs.stat(image)).size;
}

async function stageFile(context: BuildContext, name: string, write: (sink: ByteSink) => Promise<void>, open: (file: string) => Promise<ByteSink>): Promise<void> {
  const target = path.join(context.staging, name);
  const sink = await open(target);
  try {
    await write(sink);
    const sha256 = await sink.close();
    context.artifacts.push({ name, path: target, sha256, checksummed: true });
  } catch (error) {
    await sink.abort();
    await fs.rm(target, { force: true });
    throw error;
  }
}

async function stageBytes(context: BuildContext, name: string, bytes: Buffer | string): Promise<void> {
  const target = path.join(context.staging, name);
  const sha256 = await streamToFile(Readable.from([Buffer.from(bytes)]), target, context.config.Checksum);
  context.artifacts.push({ name, path: target, sha256, checksummed: true });
}

/**
 * SplitArtifacts= and Verity='s files beside the image. Split partitions are compressed like the
 * image (mkosi 14's compress_output), and each is the partition's image as it went into the disk;
 * `kernel` is the unified kernel image OutputSplitKernel= names, compressed alike.
 */
export async function stageDiskSidecars(
  context: BuildContext,
  images: PartitionImages,
  protection: Protection,
  kernel: string | undefined,
  openSink: (file: string, compressed: boolean) => Promise<ByteSink>,
): Promise<void> {
  const { config } = context;
  const names = outputNames(config);
  const compressed = outputCompression(config) !== false;
  const split: [string | undefined, PartitionRole][] = [
    [names.splitRoot, 'root'],
    [names.splitVerity, 'verity'],
    [names.splitVeritySig, 'signature'],
  ];
  for (const [name, role] of split) {
    const image = images.get(role);
    if (name === undefined || image === undefined) continue;
    const size = (await fs.stat(image)).size;
    await stageFile(context, name, (sink) => copyRange(image, 0, size, sink, config.ExtraSearchPaths), (file) => openSink(file, compressed));
  }
  if (names.splitKernel !== undefined && kernel !== undefined) {
    const size = (await fs.stat(kernel)).size;
    await stageFile(context, names.splitKernel, (sink) => copyRange(kernel, 0, size, sink, config.ExtraSearchPaths), (file) => openSink(file, compressed));
  }
  if (names.rootHash !== undefined && protection.rootHash !== undefined) await stageBytes(context, names.rootHash, `${protection.rootHash}\n`);
  if (names.rootHashSignature !== undefined && protection.signature !== undefined) await stageBytes(context, names.rootHashSignature, protection.signature);
}

/**
 * BMap=: bmaptool's block map of the uncompressed disk image `raw` (mkosi 14 ran bmaptool create
 * too). Returns the artifact for the caller to record after the image, which SHA256SUMS lists first.
 */
export async function stageBmap(context: BuildContext, raw: string): Promise<Artifact | undefined> {
  const name = outputNames(context.config).bmap;
  if (name === undefined) return undefined;
  const target = path.join(context.staging, name);
  await step('Writing the block map (BMap=)', () =>
    run(['bmaptool', 'create', '--output', target, raw], { what: 'Making the block map with bmaptool create', searchPaths: context.config.ExtraSearchPaths }),
  );
  await fs.chmod(target, 0o644);
  // A few kilobytes of XML: hashed from memory.
  const sha256 = context.config.Checksum ? createHash('sha256').update(await fs.readFile(target)).digest('hex') : undefined;
  return { name, path: target, sha256, checksummed: true };
}

/**
 * Problems with Encrypt=, Verity= and BMap= before the build starts, as one-line messages: the
 * formats they need, the passphrase file, the signing key and certificate.
 */
export async function trustProblems(config: Config, directory: string): Promise<string[]> {
  const problems: string[] = [];
  const disk = isDiskFormat(config.Format) || config.Format === 'plain_squashfs';
  if (config.Encrypt !== null && !isDiskFormat(config.Format)) problems.push(`Encrypt=${config.Encrypt} needs a GPT disk format (as in mkosi 14); Format=${config.Format} has no partitions to encrypt`);
  else problems.push(...(await encryptionProblems(config, directory)));
  if (config.Verity !== false && !disk) problems.push(`Verity= needs a GPT disk format; Format=${config.Format} has no file system image to protect`);
  if (config.Verity === 'signed') problems.push(...(await signingProblems(config.SecureBootKey, config.SecureBootCertificate)));
  if (config.BMap && !isDiskFormat(config.Format)) problems.push(`BMap= maps disk images only; Format=${config.Format} is not one`);
  return problems;
}
