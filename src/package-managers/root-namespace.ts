/**
 * Package managers run on the host but chroot into the image for scriptlets and hooks, which expect
 * /proc, /dev, /sys, /run and /tmp to be there. kiln runs the package manager in a private mount and
 * PID namespace (`unshare`) where those are mounted on the image:
 * - when the package manager exits — or is killed — the kernel drops every mount with the
 *   namespace and ends any daemon a scriptlet started, so nothing is left behind on the host;
 * - /dev is a private tmpfs with only the basic nodes bound in (as systemd-nspawn does), never the
 *   host's devtmpfs, so no scriptlet can remove or write the host's device nodes;
 * - /sys is read-only;
 * - where the build must not reach the network (WithNetwork=never), it has none.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { existsInRoot, mkdirInRoot } from '../tree/safe-path.js';

/** A directory of the host bound onto a directory of the image for the duration of the command. */
export interface RootBind {
  readonly source: string;
  /** Relative to the image root. */
  readonly imagePath: string;
}

/** Host device nodes bound into the private /dev. */
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
const DEV_LINKS: readonly (readonly [string, string])[] = [
  ['/proc/self/fd', 'fd'],
  ['/proc/self/fd/0', 'stdin'],
  ['/proc/self/fd/1', 'stdout'],
  ['/proc/self/fd/2', 'stderr'],
  ['pts/ptmx', 'ptmx'],
];

// Operations arrive as arguments, never spliced into the script, so no path can inject code.
const SCRIPT = `
while [ "$1" != -- ]; do
  case "$1" in
    mount) mount -t "$2" -o "$3" "$4" "$5"; shift 5 ;;
    dir) mkdir -p "$2"; shift 2 ;;
    device) : > "$3"; mount --bind "$2" "$3"; shift 3 ;;
    link) ln -s "$2" "$3"; shift 3 ;;
    *) echo "kiln-namespace: unknown operation $1" >&2; exit 1 ;;
  esac
done
shift
exec "$@"
`;

/**
 * The argv that runs `command` with the API file systems (and `binds`) mounted on `root`. The mount
 * points are created first, resolved inside the image, so a symlink in the image cannot send a
 * mount elsewhere.
 */
export async function inRootNamespace(
  root: string,
  command: readonly string[],
  binds: readonly RootBind[] = [],
  options: { readonly offline?: boolean } = {},
): Promise<string[]> {
  const at = (imagePath: string, mode: number) => ensureMountPoint(root, imagePath, mode);
  const dev = await at('dev', 0o755);
  const ops: string[] = [
    ...['mount', 'proc', 'nosuid,nodev,noexec', 'proc', await at('proc', 0o555)],
    ...['mount', 'tmpfs', 'mode=0755,nosuid,size=4m', 'tmpfs', dev],
    ...DEVICES.flatMap((name) => ['device', `/dev/${name}`, path.join(dev, name)]),
    ...DEV_LINKS.flatMap(([target, name]) => ['link', target, path.join(dev, name)]),
    ...['dir', path.join(dev, 'pts'), 'mount', 'devpts', 'newinstance,ptmxmode=0666,mode=0620,gid=5', 'devpts', path.join(dev, 'pts')],
    ...['dir', path.join(dev, 'shm'), 'mount', 'tmpfs', 'mode=1777,nosuid,nodev', 'tmpfs', path.join(dev, 'shm')],
    ...['mount', 'sysfs', 'ro,nosuid,nodev,noexec', 'sysfs', await at('sys', 0o555)],
    ...['mount', 'tmpfs', 'mode=0755,nosuid,nodev', 'tmpfs', await at('run', 0o755)],
    ...['mount', 'tmpfs', 'mode=1777,nosuid,nodev', 'tmpfs', await at('tmp', 0o1777)],
  ];
  for (const bind of binds) ops.push('mount', 'none', 'bind', bind.source, await at(bind.imagePath, 0o755));
  return [
    'unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child=SIGKILL',
    // offline: a network namespace of its own, without even a loopback that is up.
    ...(options.offline ? ['--net'] : []),
    'sh', '-euc', SCRIPT, 'kiln-namespace', ...ops, '--', ...command,
  ];
}

/** Creates a missing mount point with its proper mode (the umask would take /tmp's sticky bit away). */
async function ensureMountPoint(root: string, imagePath: string, mode: number): Promise<string> {
  const existed = await existsInRoot(root, imagePath);
  const target = await mkdirInRoot(root, imagePath, mode);
  if (!existed) await fs.chmod(target, mode);
  return target;
}
