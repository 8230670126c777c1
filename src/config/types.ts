/**
 * The resolved configuration. Field names are mkosi's configuration-file key names, so that
 * `summary --json`, error messages and the documentation all use the words users already know.
 * Every field has exactly one entry in the settings table (settings/index.ts); the compiler checks it.
 */

/** Every distribution mkosi 14 knows; kiln builds the ones in its distribution registry. */
export const MKOSI_DISTRIBUTIONS = [
  'fedora', 'debian', 'ubuntu', 'arch', 'opensuse', 'mageia', 'centos', 'centos_epel',
  'openmandriva', 'rocky', 'rocky_epel', 'alma', 'alma_epel', 'gentoo',
] as const;
export type DistributionName = (typeof MKOSI_DISTRIBUTIONS)[number];

/** Every output format mkosi 14 knows; kiln builds the ones in its output registry. */
export const MKOSI_FORMATS = [
  'directory', 'subvolume', 'tar', 'cpio', 'gpt_ext4', 'gpt_xfs', 'gpt_btrfs', 'gpt_squashfs', 'plain_squashfs',
] as const;
/** Formats kiln adds to mkosi 14's: LXC's image pair (lxc-create -t local) and a unified Incus/LXD image. */
export const KILN_FORMATS = ['lxc', 'incus'] as const;
export const FORMATS = [...MKOSI_FORMATS, ...KILN_FORMATS] as const;
export type FormatName = (typeof FORMATS)[number];

/** mkosi 14's old names for the disk formats. */
export const FORMAT_ALIASES: Readonly<Record<string, FormatName>> = {
  raw_gpt: 'gpt_ext4',
  raw_ext4: 'gpt_ext4',
  raw_xfs: 'gpt_xfs',
  raw_btrfs: 'gpt_btrfs',
  raw_squashfs: 'gpt_squashfs',
};

/** File-system compression algorithms (btrfs, squashfs), as mkosi 14 names them. */
export const FS_COMPRESSION = ['zlib', 'lzo', 'zstd', 'lz4', 'xz'] as const;
/** Whole-file output compression: mkosi's xz and zstd, plus gz (gzip) which kiln adds. */
export const OUTPUT_COMPRESSION = ['xz', 'zstd', 'gz'] as const;
export type OutputCompression = (typeof OUTPUT_COMPRESSION)[number];
/** A compression setting: a boolean or an algorithm name. */
export type Compression = boolean | (typeof FS_COMPRESSION)[number] | OutputCompression;

export const BOOTSTRAPPERS = ['mmdebstrap', 'debootstrap'] as const;
export type BootstrapperName = (typeof BOOTSTRAPPERS)[number];

export const SOURCE_FILE_TRANSFERS = ['copy-all', 'copy-git-cached', 'copy-git-others', 'copy-git-more', 'mount'] as const;
export type SourceFileTransfer = (typeof SOURCE_FILE_TRANSFERS)[number];

export type Path = string;

export interface Config {
  // [Distribution]
  readonly Distribution: DistributionName;
  readonly Release: string;
  readonly Architecture: string;
  readonly Mirror: string | null;
  readonly LocalMirror: string | null;
  readonly RepositoryKeyCheck: boolean;
  readonly Repositories: readonly string[];
  readonly UseHostRepositories: boolean;
  readonly RepositoryDirectory: Path | null;
  readonly Bootstrapper: BootstrapperName | null;

  // [Output]
  readonly Format: FormatName;
  readonly ManifestFormat: readonly ('json' | 'changelog')[];
  readonly Output: Path;
  readonly OutputSplitRoot: Path | null;
  readonly OutputSplitVerity: Path | null;
  readonly OutputSplitVeritySig: Path | null;
  readonly OutputSplitKernel: Path | null;
  readonly OutputDirectory: Path | null;
  readonly WorkspaceDirectory: Path | null;
  readonly Force: number;
  readonly Bootable: boolean;
  readonly BootProtocols: readonly string[];
  readonly KernelCommandLine: readonly string[];
  readonly SecureBoot: boolean;
  readonly SecureBootKey: Path | null;
  readonly SecureBootCertificate: Path | null;
  readonly SecureBootValidDays: string;
  readonly SecureBootCommonName: string;
  readonly ReadOnly: boolean;
  readonly Encrypt: 'all' | 'data' | null;
  readonly Verity: boolean | 'signed';
  readonly SignExpectedPCR: boolean | 'auto';
  readonly Compress: Compression | null;
  readonly CompressFs: Compression | null;
  readonly CompressOutput: Compression | null;
  readonly Mksquashfs: readonly string[];
  readonly QCow2: boolean;
  readonly Hostname: string | null;
  readonly ImageVersion: string | null;
  readonly ImageId: string | null;
  readonly WithUnifiedKernelImages: boolean;
  readonly HostonlyInitrd: boolean;
  readonly CacheInitrd: boolean;
  readonly SplitArtifacts: boolean;
  readonly NoChown: boolean;
  readonly TarStripSELinuxContext: boolean;
  readonly MachineID: string | null;
  /** A UUID, or "random". */
  readonly Seed: string;
  readonly Incremental: boolean;
  readonly Minimize: boolean;
  readonly GPTFirstLBA: number | null;

  // [Content]
  readonly BasePackages: boolean | 'conditional';
  readonly Packages: readonly string[];
  readonly BuildPackages: readonly string[];
  readonly RemovePackages: readonly string[];
  readonly WithDocs: boolean;
  readonly WithTests: boolean;
  readonly Cache: Path | null;
  readonly SkeletonTrees: readonly Path[];
  readonly ExtraTrees: readonly Path[];
  readonly CleanPackageMetadata: boolean | 'auto';
  readonly RemoveFiles: readonly string[];
  readonly Environment: Readonly<Record<string, string>>;
  readonly SourceDateEpoch: number | null;
  readonly BuildSources: Path | null;
  readonly BuildDirectory: Path | null;
  readonly IncludeDirectory: Path | null;
  readonly InstallDirectory: Path | null;
  readonly Password: string | null;
  readonly PasswordIsHashed: boolean;
  readonly Autologin: boolean;
  readonly SkipFinalPhase: boolean;
  readonly BuildScript: Path | null;
  readonly PrepareScript: Path | null;
  readonly PostInstallationScript: Path | null;
  readonly FinalizeScript: Path | null;
  readonly SourceFileTransfer: SourceFileTransfer | null;
  readonly SourceFileTransferFinal: SourceFileTransfer | null;
  readonly SourceResolveSymlinks: boolean;
  readonly SourceResolveSymlinksFinal: boolean;
  readonly WithNetwork: boolean | 'never';
  readonly NSpawnSettings: Path | null;

  // [Partitions]
  readonly BaseImage: Path | null;
  readonly RootSize: number;
  readonly ESPSize: number | null;
  readonly XbootldrSize: number | null;
  readonly SwapSize: number | null;
  readonly HomeSize: number | null;
  readonly SrvSize: number | null;
  readonly VarSize: number | null;
  readonly TmpSize: number | null;
  readonly BiosSize: number | null;
  readonly UsrOnly: boolean;

  // [Validation]
  readonly Checksum: boolean;
  readonly Sign: boolean;
  readonly Key: string | null;
  readonly BMap: boolean;

  // [Host]
  readonly ExtraSearchPaths: readonly Path[];
  readonly QemuHeadless: boolean;
  readonly QemuSmp: string;
  readonly QemuMem: string;
  readonly QemuKvm: boolean;
  readonly QemuArgs: readonly string[];
  readonly QemuBoot: 'uefi' | 'linux';
  readonly NspawnKeepUnit: boolean;
  readonly Netdev: boolean;
  readonly Ephemeral: boolean;
  readonly Ssh: boolean;
  readonly SshKey: Path | null;
  readonly SshAgent: string | null;
  readonly SshPort: number;
  readonly SshTimeout: number;
}

export type SettingName = keyof Config;
