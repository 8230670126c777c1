/** A verb of the command line (build, summary, shell…): mkosi 14's, plus a few of kiln's own. */
import type { ParsedArguments, VerbShape } from '../cli/arguments.js';
import type { Image } from '../all/images.js';
import type { Loaded } from '../config/load.js';

export interface Invocation {
  readonly args: ParsedArguments;
  /** The shell's working directory. */
  readonly cwd: string;
  /** The configuration directory (-C), absolute. */
  readonly directory: string;
  /** Loads the configuration once, on first use (with --all: of the one image --image picks). */
  config(): Loaded;
  /** With --all: the images of mkosi.files/ (those --image names), loaded. */
  images(): readonly Image[];
  /** File names as the user would write them (relative to the working directory when inside it). */
  display(file: string): string;
}

export interface Verb extends VerbShape {
  readonly doc: string;
  /** Where the verb comes from: mkosi 14, or kiln's own addition. */
  readonly origin: 'mkosi' | 'kiln';
  run(invocation: Invocation): Promise<number | void>;
}
