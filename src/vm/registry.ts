/**
 * Which virtual machine `kiln qemu` is running for an image, and how `kiln ssh` reaches it: a small
 * record per image under /run/kiln/vms (gone with a reboot), written when qemu starts and removed
 * when it ends. A record whose kiln process is gone is stale and ignored.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../util/write-atomically.js';

export const REGISTRY_DIRECTORY = '/run/kiln/vms';

export type SshRoute =
  /** qemu's user networking forwards this port on 127.0.0.1 to the guest's ssh port. */
  | { readonly type: 'forward'; readonly port: number }
  /** A tap link: the guest is found by IPv6 neighbour discovery on it, as mkosi 14 does. */
  | { readonly type: 'link'; readonly ifname: string; readonly port: number };

export interface RunningVm {
  /** The `kiln qemu` process. */
  readonly pid: number;
  readonly image: string;
  readonly ssh?: SshRoute;
}

function recordPath(image: string, directory: string): string {
  return path.join(directory, `${createHash('sha256').update(path.resolve(image)).digest('hex').slice(0, 16)}.json`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Records the VM; returns how to remove the record again. */
export async function registerVm(vm: RunningVm, directory = REGISTRY_DIRECTORY): Promise<() => Promise<void>> {
  await fs.mkdir(directory, { recursive: true, mode: 0o700 });
  const file = recordPath(vm.image, directory);
  await writeFileAtomically(file, `${JSON.stringify(vm)}\n`, 0o600);
  return async () => {
    const current = await findVm(vm.image, directory);
    if (current?.pid === vm.pid || current === undefined) await fs.rm(file, { force: true });
  };
}

/** The running VM of `image`, if there is one. */
export async function findVm(image: string, directory = REGISTRY_DIRECTORY): Promise<RunningVm | undefined> {
  let vm: RunningVm;
  try {
    vm = JSON.parse(await fs.readFile(recordPath(image, directory), 'utf8')) as RunningVm;
  } catch {
    return undefined;
  }
  return alive(vm.pid) ? vm : undefined;
}
