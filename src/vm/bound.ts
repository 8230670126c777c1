/**
 * A command that lives no longer than kiln. Killed with SIGKILL (a CI job's deadline), kiln cannot
 * end what it started, and an orphaned qemu keeps the disk and the ssh port that kiln ssh no longer
 * finds. setpriv asks the kernel to kill the command when kiln dies; that cannot cover a kiln that
 * died before setpriv asked, so the shell it runs then checks that kiln is still its parent, and
 * only then becomes the command.
 */
import { locateTool } from '../host-tools.js';

export function boundToKiln(argv: readonly string[], searchPaths: readonly string[] = [], kilnPid = process.pid): string[] {
  if (!locateTool('setpriv', searchPaths)) return [...argv];
  return ['setpriv', '--pdeathsig', 'KILL', '--', 'sh', '-c', `[ "$PPID" = ${kilnPid} ] && exec "$@"`, argv[0]!, ...argv];
}
