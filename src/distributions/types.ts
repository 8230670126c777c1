/**
 * A distribution is policy: which release names it has, where its packages come from, what a base
 * system contains. How packages are installed is the package manager's business (package-managers/).
 */
import type { Host } from '../config/host.js';
import type { Config, DistributionName } from '../config/types.js';
import type { PackageManagerName } from '../package-managers/types.js';

/** How a distribution ships PAM, where kiln must change it (see stages/pam.ts). */
export interface PamPolicy {
  /** Where PAM finds the files /etc/pam.d lacks, in the order it looks (image paths). */
  readonly vendorDirectories: readonly string[];
  /** The file whose pam_unix.so needs `nullok` for an empty Password=. */
  readonly nullokFile: string;
}

export interface Distribution {
  readonly name: DistributionName;
  /**
   * The mirror used when Mirror= is not set, or null when the user must give one. kiln never
   * writes a mirror host name into its code: Debian's default comes from the host's apt sources.
   */
  defaultMirror(host: Host, architecture: string): string | null;
  /**
   * Without Mirror= it installs from the distribution's own mirror lists or metalinks (the RPM
   * distributions, as in mkosi 14), so no mirror is required.
   */
  readonly mirrorLists?: boolean;
  /** A hint for the error shown when no mirror is configured and none can be derived. */
  readonly mirrorHint: string;
  readonly packageManager: PackageManagerName;
  /**
   * Packages BasePackages= adds, as mkosi 14 chooses them: systemd and what a container needs to
   * boot; with Bootable=yes also a kernel (unless Packages= names one), dracut and the boot loader;
   * with Ssh=yes the OpenSSH server. `conditional` only matters for RPM rich dependencies.
   */
  basePackages(config: Config): readonly string[];
  /** Where the initrd of kernel `version` goes in the image: where the distribution's own tools put it. */
  initrdPath(version: string): string;
  /** The unit that runs the OpenSSH server, which Ssh=yes enables. */
  readonly sshUnit: string;
  /**
   * The archive keyring the host needs to check signatures (RepositoryKeyCheck=yes), and how to get it.
   */
  readonly keyring?: { readonly file: string; readonly hint: string; readonly package?: string };
  /**
   * dracut drop-ins (file name in /etc/dracut.conf.d → content) a bootable image needs beside kiln's
   * own, where the distribution's dracut configuration would override those (Mageia). The boot
   * stages write them with kiln's.
   */
  dracutDropins?(config: Config): Readonly<Record<string, string>>;
  /** Set where PAM's files are not all in /etc/pam.d, or lack nullok (openSUSE). */
  readonly pam?: PamPolicy;
  /** Why this Release= cannot be built (CentOS 7), or undefined. */
  unsupportedRelease?(config: Config): string | undefined;
  /**
   * A small file of the configured repository, fetched before the build to fail fast with the URL
   * (Debian: dists/<release>/Release). Undefined when there is nothing cheap to ask.
   */
  probe?(config: Config): { readonly url: string; readonly setting: 'Mirror' | 'LocalMirror' } | undefined;
}

export type { Config };
