/** Enabling systemd units in the image. */
import { run } from '../run.js';

/** Enables units the way `systemctl enable` does, from the host with the image as its root (mkosi 14 does the same). */
export async function enableUnits(root: string, units: readonly string[], searchPaths: readonly string[] = []): Promise<void> {
  await run(['systemctl', `--root=${root}`, '--quiet', 'enable', ...units], {
    what: `Enabling ${units.join(', ')} in the image`,
    searchPaths,
  });
}
