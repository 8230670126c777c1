/**
 * The network of a `kiln qemu` machine and how `kiln ssh` gets to it. As mkosi 14: a tap link
 * vt-<name> where the host can serve it (root, and systemd-networkd running with its 80-vm-vt.network,
 * which gives the link an address and DHCP), qemu's user networking everywhere else. With user
 * networking the guest's ssh port is forwarded from a free port on 127.0.0.1; on a tap link the guest
 * is found by IPv6 neighbour discovery, as mkosi 14's find_address() does.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { stripSuffixes } from '../artifacts/names.js';
import type { Config } from '../config/types.js';
import { UserError } from '../errors.js';
import { detectNspawnHost } from '../nspawn.js';
import type { QemuNetwork } from '../qemu.js';
import { run } from '../run.js';
import type { SshRoute } from './registry.js';

/** mkosi 14's machine_name(): Hostname=, else ImageId=, else the output's name up to its first "_". */
export function machineName(config: Pick<Config, 'Hostname' | 'ImageId' | 'Output'>): string {
  return config.Hostname ?? config.ImageId ?? stripSuffixes(path.basename(config.Output)).split('_')[0]!;
}

/** Link names hold 15 characters: "vt-" and 12 of the machine's name. */
export function tapName(config: Pick<Config, 'Hostname' | 'ImageId' | 'Output'>): string {
  return `vt-${machineName(config).slice(0, 12)}`;
}

/** A TCP port on 127.0.0.1 that is free now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const VM_VT_NETWORK = ['/usr/lib/systemd/network', '/lib/systemd/network', '/etc/systemd/network'].map((dir) => `${dir}/80-vm-vt.network`);

/** Whether a tap link would be served here: root, systemd as PID 1 with systemd-networkd active. */
export async function hostServesTap(): Promise<boolean> {
  if (process.getuid?.() !== 0 || !detectNspawnHost().systemdBooted) return false;
  if (!VM_VT_NETWORK.some((file) => existsSync(file))) return false;
  const result = await run(['systemctl', 'is-active', '--quiet', 'systemd-networkd'], { stdio: 'pipe', okCodes: [1, 3, 4] });
  return result.exitCode === 0;
}

export interface VmNetwork {
  readonly network?: QemuNetwork;
  readonly ssh?: SshRoute;
}

/** The network card of the machine: Netdev=yes asks for one, and Ssh=yes needs one to be reached. */
export async function chooseNetwork(config: Config, servesTap: () => Promise<boolean> = hostServesTap): Promise<VmNetwork> {
  if (!config.Netdev && !config.Ssh) return {};
  if (await servesTap()) {
    const ifname = tapName(config);
    return { network: { type: 'tap', ifname }, ssh: config.Ssh ? { type: 'link', ifname, port: config.SshPort } : undefined };
  }
  if (!config.Ssh) return { network: { type: 'user', forwards: [] } };
  const port = await freePort();
  return { network: { type: 'user', forwards: [{ hostPort: port, guestPort: config.SshPort }] }, ssh: { type: 'forward', port } };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether an ssh server answers at host:port (qemu's forwarder accepts connections even when nothing listens behind it). */
export function sshAnswers(host: string, port: number, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('data', (chunk) => done(chunk.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** Waits up to `seconds` (SshTimeout=; 0 means one try) for the ssh server to answer. */
export async function waitForSsh(host: string, port: number, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (await sshAnswers(host, port)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(1000);
  }
}

/** The guest's IPv6 link-local address on a tap link, from the neighbours an all-nodes ping finds. */
export async function linkLocalAddress(ifname: string, seconds: number): Promise<string> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    await run(['ping', '-c', '1', '-w', '15', `ff02::1%${ifname}`], { stdio: 'pipe', okCodes: [1, 2], what: `Looking for the machine on ${ifname}` });
    const { stdout } = await run(['ip', '-j', 'neighbor', 'show', 'dev', ifname], { read: true, what: `Listing the neighbours on ${ifname}` });
    const neighbour = (JSON.parse(stdout || '[]') as { dst: string }[]).find((entry) => entry.dst.startsWith('fe80'));
    if (neighbour) return `${neighbour.dst}%${ifname}`;
    if (Date.now() >= deadline) throw new UserError(`found no machine on ${ifname}`, { hint: 'is it still booting? raise SshTimeout=' });
    await sleep(1000);
  }
}
