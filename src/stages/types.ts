/** One step of the build, in the order of stages/index.ts. */
import type { BuildContext } from '../context.js';

export interface Stage {
  /** What the progress line says. */
  readonly title: string;
  /** Whether there is anything to do for this build. */
  enabled(context: BuildContext): boolean;
  run(context: BuildContext): Promise<void>;
}
