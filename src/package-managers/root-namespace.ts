/**
 * Package managers run scriptlets chrooted into the image, and those expect /proc, /dev, /sys, /run
 * and /tmp to be there. kiln runs the package manager in a private mount and PID namespace
 * (`unshare`) where those are mounted on the image: when the package manager exits — or is killed —
 * the kernel drops every mount with the namespace and ends any daemon a scriptlet started, so no
 * mount and no process is ever left behind on the host, whatever happens to kiln.
 */
import fs from 'node:fs/promises';
import { existsInRoot, mkdirInRoot } from '../tree/safe-path.js';

/** A directory of the host bound onto a directory of the image for the duration of the command. */
export interface RootBind {
  readonly source: string;
  /** Relative to the image root. */
  readonly imagePath: string;
}

interface Mount {
  readonly type: string;
  readonly options: string;
  readonly source: string;
  readonly imagePath: string;
  readonly mode: number;
}

const API_MOUNTS: readonly Mount[] = [
  { type: 'proc', options: 'nosuid,nodev,noexec', source: 'proc', imagePath: 'proc', mode: 0o555 },
  { type: 'none', options: 'rbind', source: '/dev', imagePath: 'dev', mode: 0o755 },
  { type: 'none', options: 'rbind', source: '/sys', imagePath: 'sys', mode: 0o555 },
  { type: 'tmpfs', options: 'mode=0755,nosuid,nodev', source: 'tmpfs', imagePath: 'run', mode: 0o755 },
  { type: 'tmpfs', options: 'mode=1777,nosuid,nodev', source: 'tmpfs', imagePath: 'tmp', mode: 0o1777 },
];

// The mount targets arrive as arguments, never spliced into the script, so no path can inject code.
const MOUNT_SCRIPT = 'while [ "$1" != -- ]; do mount -t "$1" -o "$2" "$3" "$4"; shift 4; done; shift; exec "$@"';

/**
 * The argv that runs `command` with the API file systems (and `binds`) mounted on `root`. The mount
 * points are created first, resolved inside the image, so a symlink in the image cannot send a
 * mount elsewhere.
 */
export async function inRootNamespace(root: string, command: readonly string[], binds: readonly RootBind[] = []): Promise<string[]> {
  const mounts: Mount[] = [
    ...API_MOUNTS,
    ...binds.map((bind) => ({ type: 'none', options: 'bind', source: bind.source, imagePath: bind.imagePath, mode: 0o755 })),
  ];
  const args: string[] = [];
  for (const mount of mounts) args.push(mount.type, mount.options, mount.source, await ensureMountPoint(root, mount.imagePath, mount.mode));
  return [
    'unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child=SIGKILL',
    'sh', '-euc', MOUNT_SCRIPT, 'kiln-namespace', ...args, '--', ...command,
  ];
}

/** Creates a missing mount point with its proper mode (the umask would take /tmp's sticky bits away). */
async function ensureMountPoint(root: string, imagePath: string, mode: number): Promise<string> {
  const existed = await existsInRoot(root, imagePath);
  const target = await mkdirInRoot(root, imagePath, mode);
  if (!existed) await fs.chmod(target, mode);
  return target;
}
