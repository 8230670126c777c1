/** [Output] settings. */
import path from 'node:path';
import { isSupportedFormat, SUPPORTED_FORMAT_NAMES } from '../../outputs/index.js';
import { hasCommand } from '../../util/which.js';
import {
  bool,
  boolOr,
  counter,
  enumeration,
  integer,
  list,
  pathSetting,
  string,
  type ResolveContext,
  type Setting,
} from '../setting.js';
import { ParseError, parseBoolean, parseEnum, isBooleanLiteral } from '../parsers.js';
import {
  FORMAT_ALIASES,
  FORMATS,
  FS_COMPRESSION,
  KILN_FORMATS,
  OUTPUT_COMPRESSION,
  type Compression,
  type FormatName,
} from '../types.js';
import { detect, readDetected, withDistributionSubdir } from './auto-detect.js';
import { deriveSeed, parseSeed } from '../../reproducible.js';
import {
  auxiliaryOutputPath,
  effectiveOutputCompression,
  isDiskFormat,
  isSquashfsFormat,
  rootOrUsr,
  rootPartitionLabel,
  udevEscape,
} from '../derived.js';

const section = 'Output';

const COMPRESSION_WORDS = [...new Set([...FS_COMPRESSION, ...OUTPUT_COMPRESSION, 'gzip'])];

/** mkosi's parse_compression(): an algorithm name or a boolean; kiln also knows gz/gzip. */
function parseCompression(raw: string): Compression {
  if (raw === 'gzip') return 'gz';
  if ((COMPRESSION_WORDS as readonly string[]).includes(raw)) return raw as Compression;
  if (isBooleanLiteral(raw)) return parseBoolean(raw);
  throw new ParseError(`is not a compression (use yes, no or one of ${COMPRESSION_WORDS.join(', ')})`, { value: raw });
}

function compression(flag: string, mkosi: string, doc: string): Setting<Compression | null> {
  return {
    section,
    flags: [flag],
    mkosi,
    doc,
    kind: {
      type: 'scalar' as const,
      parse: parseCompression,
      bare: true,
      acceptsNext: (raw: string) => isBooleanLiteral(raw) || (COMPRESSION_WORDS as readonly string[]).includes(raw),
      metavar: 'ALG',
    },
    status: 'supported' as const,
    resolve: (raw: unknown) => (raw as Compression | undefined) ?? null,
  };
}

/** Python's uuid.UUID(hex=…) is what mkosi 14 validates with: 32 hex digits, dashes and braces allowed. */
function parseMachineId(raw: string): string {
  const digits = raw.replace(/^urn:uuid:/, '').replace(/[{}-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(digits)) throw new ParseError('is not a machine ID (use 32 hexadecimal digits)', { value: raw });
  return raw;
}

/**
 * mkosi.seed, as modern mkosi reads it; else a seed derived from the image's identity when the build
 * is reproducible (SourceDateEpoch=); else random. A malformed mkosi.seed is reported by validate.ts.
 */
function defaultSeed(context: ResolveContext): string {
  const file = readDetected(context, 'mkosi.seed');
  if (file !== null) {
    try {
      return parseSeed(file);
    } catch {
      return 'random';
    }
  }
  const epoch = context.get('SourceDateEpoch');
  if (epoch === null) return 'random';
  const identity = {
    Distribution: context.get('Distribution'),
    Release: context.get('Release'),
    Architecture: context.get('Architecture'),
    Format: context.get('Format'),
    ImageId: context.get('ImageId'),
    ImageVersion: context.get('ImageVersion'),
    Output: context.get('Output'),
  };
  return deriveSeed(identity, epoch);
}

/** mkosi 14's default output name: <ImageId or image>[_<ImageVersion>] plus the format's suffix. */
function defaultOutputName(context: ResolveContext): string {
  const id = context.get('ImageId') ?? 'image';
  const version = context.get('ImageVersion');
  const prefix = version !== null ? `${id}_${version}` : id;
  const format = context.get('Format');
  const compress = effectiveOutputCompression(format, context.get('Compress'), context.get('CompressOutput'));
  const suffix = compress ? `.${compress}` : '';
  if (isSquashfsFormat(format)) return `${prefix}.raw`;
  if (isDiskFormat(format)) return `${prefix}${context.get('QCow2') ? '.qcow2' : '.raw'}${suffix}`;
  if (format === 'tar') return `${prefix}.tar${suffix}`;
  // LXC's lxc-local template unpacks both files with tar -J: always xz.
  if (format === 'lxc') return `${prefix}.rootfs.tar.xz`;
  if (format === 'incus') return `${prefix}.incus.tar${suffix}`;
  if (format === 'cpio') return `${prefix}.cpio${suffix}`;
  return prefix;
}

/**
 * mkosi 14's additions to the kernel command line in load_args: a serial console for QemuHeadless=,
 * mount.usr= for a bootable /usr-only image without verity, and "rw" unless the image is read-only.
 */
function finalizeKernelCommandLine(value: readonly string[], context: ResolveContext): string[] {
  const line = [...value];
  if (context.get('QemuHeadless')) {
    if (!line.includes('console=ttyS0')) line.push('console=ttyS0');
    if (!line.some((item) => item.includes('loglevel'))) line.push('loglevel=4');
  }
  if (context.get('Bootable') && context.get('UsrOnly') && context.get('Verity') === false) {
    const label = rootPartitionLabel({ ImageId: context.get('ImageId'), ImageVersion: context.get('ImageVersion'), UsrOnly: true });
    line.push(`mount.usr=/dev/disk/by-partlabel/${udevEscape(label)}`);
  }
  if (!context.get('ReadOnly')) line.push('rw');
  return line;
}

/**
 * A split artifact path: with SplitArtifacts= mkosi 14 names it after Output= when `suffix` applies,
 * replacing any value given; otherwise the value given stays (and nothing is written).
 */
function splitArtifact(
  flag: string,
  mkosi: string,
  doc: string,
  suffix: (context: ResolveContext) => string | null,
  status: 'supported' | 'unsupported' = 'supported',
): Setting<string | null> {
  return pathSetting({
    section,
    flags: [flag],
    mkosi,
    default: null,
    finalize: (value, context) => {
      const name = context.get('SplitArtifacts') ? suffix(context) : null;
      if (name === null) return value;
      const output = { Output: context.get('Output'), Format: context.get('Format'), Compress: context.get('Compress'), CompressOutput: context.get('CompressOutput') };
      return auxiliaryOutputPath(output, name, true);
    },
    status,
    neutral: null,
    doc,
  });
}

/** A name without a slash goes into OutputDirectory=; anything else is a path of its own. */
function placeOutput(name: string, context: ResolveContext): string {
  const directory = context.get('OutputDirectory');
  if (directory !== null && !name.includes('/')) return path.join(directory, name);
  if (directory !== null && context.isSet('OutputDirectory')) {
    context.warn('Output= is a path, so OutputDirectory= is ignored for it');
  }
  return path.resolve(context.directory, name);
}

export const outputSettings = {
  Format: enumeration<FormatName, FormatName>(FORMATS, {
    section,
    flags: ['-t', '--format'],
    mkosi: 'output_format',
    aliases: FORMAT_ALIASES,
    default: 'gpt_ext4',
    status: 'partial',
    unsupported: (value) =>
      isSupportedFormat(value)
        ? undefined
        : `Format=${value} is not supported by kiln yet (it builds ${SUPPORTED_FORMAT_NAMES.join(', ')})`,
    annotate: (value) => ((KILN_FORMATS as readonly string[]).includes(value) ? 'kiln extension' : undefined),
    doc: `Output format (default: gpt_ext4, as in mkosi 14); kiln extensions: ${KILN_FORMATS.join(', ')} (LXC and Incus images)`,
  }),
  ManifestFormat: list<readonly ('json' | 'changelog')[]>({
    section,
    flags: ['--manifest-format'],
    mkosi: 'manifest_format',
    delimiter: ',',
    item: (raw) => parseEnum(['json', 'changelog'] as const)(raw),
    unset: ['json'],
    doc: 'Manifest formats to write beside the image: json (<output>.manifest), changelog (<output>.changelog: packages by source package with their changelogs)',
  }),
  Output: string<string>({
    section,
    flags: ['-o', '--output'],
    mkosi: 'output',
    default: defaultOutputName,
    finalize: placeOutput,
    metavar: 'PATH',
    doc: 'Output path (default: image, image.tar.xz or image.raw in OutputDirectory=; image.rootfs.tar.xz for lxc)',
  }),
  OutputSplitRoot: splitArtifact('--output-split-root', 'output_split_root', 'With SplitArtifacts=: the root (or /usr) partition as a file, <stem>.root.raw', (context) =>
    `${rootOrUsr({ UsrOnly: context.get('UsrOnly') })}.raw`),
  OutputSplitVerity: splitArtifact('--output-split-verity', 'output_split_verity', 'With SplitArtifacts= and Verity=: the verity partition as a file, <stem>.root.verity', (context) =>
    context.get('Verity') !== false ? `${rootOrUsr({ UsrOnly: context.get('UsrOnly') })}.verity` : null),
  OutputSplitVeritySig: splitArtifact('--output-split-verity-sig', 'output_split_verity_sig', 'With SplitArtifacts= and Verity=signed: the signature partition (JSON) as a file, when compressed (else the .roothash.p7s is that name)', (context) => {
    const part = rootOrUsr({ UsrOnly: context.get('UsrOnly') });
    return context.get('Verity') === 'signed' ? `${part}${part}hash.p7s` : null;
  }),
  OutputSplitKernel: splitArtifact(
    '--output-split-kernel',
    'output_split_kernel',
    'With SplitArtifacts= and Bootable=yes: the unified kernel image as a file, <stem>.efi (none with WithUnifiedKernelImages=no)',
    (context) => (context.get('Bootable') ? '.efi' : null),
  ),
  OutputDirectory: pathSetting({
    section,
    flags: ['-O', '--output-dir'],
    mkosi: 'output_dir',
    ...withDistributionSubdir('mkosi.output'),
    doc: 'Directory for the outputs, with a <distribution>~<release> subdirectory (default: mkosi.output/ if it exists)',
  }),
  WorkspaceDirectory: pathSetting({
    section,
    flags: ['--workspace-dir'],
    mkosi: 'workspace_dir',
    default: (context) => detect(context, 'mkosi.workspace', 'directory'),
    doc: 'Directory for temporary build files (default: mkosi.workspace/ if it exists, else beside the output)',
  }),
  Force: counter({
    section,
    flags: ['-f', '--force'],
    mkosi: 'force',
    commandLineOnly: true,
    doc: 'Replace existing outputs; twice: also the incremental cache; three times: also the package cache',
  }),
  GPTFirstLBA: integer<number | null>({
    section,
    flags: ['--gpt-first-lba'],
    mkosi: 'gpt_first_lba',
    default: null,
    doc: 'Sector where the first partition starts, exactly (default: 2048, 1 MiB); 34 at the earliest',
  }),
  Bootable: bool({
    section,
    flags: ['-b', '--bootable'],
    mkosi: 'bootable',
    default: false,
    doc: 'Add a kernel, initrd and boot loader: GPT disks boot with UEFI (systemd-boot in an EFI system partition)',
  }),
  BootProtocols: list({
    section,
    flags: ['--boot-protocols'],
    // mkosi 14 parses it, then drops it from its configuration (load_args): no value to compare.
    mkosi: 'boot_protocols',
    delimiter: ',',
    finalize: (value, context) => {
      if (value.length > 0) context.warn('BootProtocols= is deprecated and has no effect (as in mkosi 14)');
      return value;
    },
    doc: 'Deprecated, has no effect',
  }),
  KernelCommandLine: list({
    section,
    flags: ['--kernel-command-line', '--kernel-commandline'],
    mkosi: 'kernel_command_line',
    delimiter: ' ',
    initial: ['rhgb', 'selinux=0', 'audit=0'],
    finalize: finalizeKernelCommandLine,
    doc: 'Kernel command line of a bootable image',
  }),
  SecureBoot: bool({
    section,
    flags: ['--secure-boot'],
    mkosi: 'secure_boot',
    default: false,
    doc: 'Sign systemd-boot and the unified kernel images with sbsign for UEFI Secure Boot (Bootable=yes)',
  }),
  SecureBootKey: pathSetting({
    section,
    flags: ['--secure-boot-key'],
    mkosi: 'secure_boot_key',
    default: (context) => path.join(context.directory, 'mkosi.secure-boot.key'),
    doc: 'PEM private key for SecureBoot=, SignExpectedPCR= and Verity=signed (kiln genkey makes one)',
  }),
  SecureBootCertificate: pathSetting({
    section,
    flags: ['--secure-boot-certificate'],
    mkosi: 'secure_boot_certificate',
    default: (context) => path.join(context.directory, 'mkosi.secure-boot.crt'),
    doc: 'PEM X.509 certificate of SecureBootKey=',
  }),
  SecureBootValidDays: string<string>({ section, flags: ['--secure-boot-valid-days'], mkosi: 'secure_boot_valid_days', default: '730', doc: 'Days the certificate kiln genkey makes is valid' }),
  SecureBootCommonName: string<string>({ section, flags: ['--secure-boot-common-name'], mkosi: 'secure_boot_common_name', default: 'mkosi of %u', doc: 'Common name of the certificate kiln genkey makes (%u: the user)' }),
  ReadOnly: bool({
    section,
    flags: ['--read-only'],
    mkosi: 'read_only',
    default: false,
    finalize: (value, context) => value || isSquashfsFormat(context.get('Format')) || context.get('Verity') !== false,
    doc: 'Make the root file system read-only (GPT attribute 60; btrfs ro property)',
  }),
  Encrypt: enumeration<'all' | 'data', 'all' | 'data' | null>(['all', 'data'], {
    section,
    flags: ['--encrypt'],
    mkosi: 'encrypt',
    default: null,
    doc: 'LUKS2 on the data partitions (data) or on them and the root (all); the passphrase is mkosi.passphrase',
  }),
  Verity: boolOr(['signed'], {
    section,
    flags: ['--verity'],
    mkosi: 'verity',
    default: false,
    doc: 'A dm-verity partition for the root and <stem>.root.roothash (roothash=, or usrhash= with UsrOnly=, in a bootable image\'s kernel command line); signed: also the PKCS#7 signature partition and .roothash.p7s',
  }),
  SignExpectedPCR: boolOr(['auto'], {
    section,
    flags: ['--sign-expected-pcr'],
    mkosi: 'sign_expected_pcr',
    default: 'auto',
    // mkosi 14 decides "auto" while parsing: yes when systemd-measure is installed.
    finalize: (value, context) => (value === 'auto' ? hasCommand('systemd-measure', context.env) : value),
    doc: 'With SecureBoot=: systemd-measure signs the expected PCR 11 values into the UKI (.pcrsig, .pcrpkey); without a TPM on a software one (swtpm)',
  }),
  Compress: <Setting<Compression | null>>{
    ...compression('--compress', 'compress', 'Compress the file system where the format allows it, else the whole output'),
    // mkosi 14 turns compression on for squashfs formats, which cannot be uncompressed.
    resolve: (raw: unknown, context: ResolveContext): Compression | null => {
      const value = (raw as Compression | undefined) ?? null;
      return value === null && isSquashfsFormat(context.get('Format')) ? true : value;
    },
    unsupported: (value: Compression | null, context: ResolveContext) =>
      value === false && isSquashfsFormat(context.get('Format')) ? 'Compress=no is not possible with squashfs formats' : undefined,
  },
  CompressFs: compression('--compress-fs', 'compress_fs', 'Compress inside the file system (gpt_btrfs, subvolume, squashfs formats)'),
  CompressOutput: compression('--compress-output', 'compress_output', 'Compress the whole output: xz, zstd or gz (tar: xz by default)'),
  Mksquashfs: <Setting<readonly string[]>>{
    section,
    flags: ['--mksquashfs'],
    mkosi: 'mksquashfs_tool',
    kind: { type: 'scalar' as const, parse: (raw: string) => raw.split(/\s+/).filter(Boolean), metavar: 'COMMAND' },
    status: 'supported' as const,
    resolve: (raw: unknown, context: ResolveContext): readonly string[] => {
      if (raw !== undefined) return raw as string[];
      const tool = detect(context, 'mkosi.mksquashfs-tool');
      return tool ? [tool] : [];
    },
    doc: 'Command to use instead of mksquashfs (default: mkosi.mksquashfs-tool if it exists)',
  },
  QCow2: bool({ section, flags: ['--qcow2'], mkosi: 'qcow2', default: false, doc: 'Convert the disk image to qcow2 with qemu-img' }),
  Hostname: string<string | null>({ section, flags: ['--hostname'], mkosi: 'hostname', default: null, doc: 'Host name written to /etc/hostname' }),
  ImageVersion: string<string | null>({
    section,
    flags: ['--image-version'],
    mkosi: 'image_version',
    default: (context) => readDetected(context, 'mkosi.version'),
    doc: 'Image version, part of the output name (default: content of mkosi.version)',
  }),
  ImageId: string<string | null>({ section, flags: ['--image-id'], mkosi: 'image_id', default: null, doc: 'Image name, part of the output name' }),
  WithUnifiedKernelImages: bool({
    section,
    flags: ['--with-unified-kernel-images', '--without-unified-kernel-images'],
    mkosi: 'with_unified_kernel_images',
    default: true,
    doc: 'Boot through a unified kernel image in EFI/Linux/; no: a Boot Loader Specification type-1 entry',
  }),
  HostonlyInitrd: bool({ section, flags: ['--hostonly-initrd'], mkosi: 'hostonly_initrd', default: false, doc: "Make a host-only initrd: dracut's hostonly=yes (bootable images)" }),
  CacheInitrd: bool({ section, flags: ['--cache-initrd'], mkosi: 'cache_initrd', default: false, doc: 'Keep the initrd in the incremental cache instead of making it on every build (Incremental=yes)' }),
  SplitArtifacts: bool({
    section,
    flags: ['--split-artifacts'],
    mkosi: 'split_artifacts',
    default: false,
    finalize: (value, context) => value && isDiskFormat(context.get('Format')),
    doc: 'Also write the root partition, its verity data and the unified kernel image (OutputSplitRoot=, OutputSplitVerity=, OutputSplitKernel=…) as separate files',
  }),
  NoChown: bool({ section, flags: ['--no-chown'], mkosi: 'no_chown', default: false, doc: "Don't hand outputs to the user who called sudo" }),
  TarStripSELinuxContext: bool({ section, flags: ['--tar-strip-selinux-context'], mkosi: 'tar_strip_selinux_context', default: false, doc: 'Leave security.selinux extended attributes out of tar outputs' }),
  MachineID: string<string | null>({
    section,
    flags: ['--machine-id'],
    mkosi: 'machine_id',
    default: null,
    metavar: 'ID',
    parse: parseMachineId,
    doc: 'Fixed machine ID kept in the image (default: uninitialized, set on first boot)',
  }),
  Seed: string<string>({
    section,
    flags: ['--seed'],
    mkosi: '',
    metavar: 'UUID|random',
    parse: parseSeed,
    default: defaultSeed,
    doc: 'UUID that disk, partition and file-system UUIDs and hash seeds derive from, or random (default: mkosi.seed, else with SourceDateEpoch= one derived from the image\'s identity and the epoch, else random; modern mkosi\'s Seed=)',
  }),
  Incremental: bool({ section, flags: ['-i', '--incremental'], mkosi: 'incremental', default: false, doc: 'Reuse a cached root from an earlier build with the same inputs' }),
  Minimize: bool({
    section,
    flags: ['-M', '--minimize'],
    mkosi: 'minimize',
    default: false,
    // mkosi 14 sizes squashfs roots automatically unless RootSize= is given.
    finalize: (value, context) => value || (isSquashfsFormat(context.get('Format')) && !context.isSet('RootSize')),
    doc: 'Make the root file system only as large as its contents (gpt_ext4, gpt_btrfs)',
  }),
};

