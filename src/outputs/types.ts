/** One output format: what it needs from the host and how it turns the finished root into files. */
import type { Config, FormatName } from '../config/types.js';
import type { BuildContext } from '../context.js';

export interface OutputFormat {
  readonly name: FormatName;
  /** Host programs this format runs for this configuration (checked before the build starts). */
  requiredTools(config: Config): readonly string[];
  /**
   * Checks that need the host, made before anything is built (a subvolume needs btrfs below the
   * output directory). Throws a UserError.
   */
  check?(config: Config, outputDirectory: string): Promise<void>;
  /**
   * Writes the output for `context.root` into `context.staging` and records every file it made in
   * `context.artifacts` (with its SHA-256 when Checksum= is on, computed while writing).
   */
  write(context: BuildContext): Promise<void>;
}
