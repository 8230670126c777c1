/**
 * Format=lxc and Format=incus through the registry, as the pipeline calls them, on a small root
 * (no distribution is built): what lands in the archives, read back with the real tar, Incus'
 * metadata.yaml with a real YAML parser (PyYAML), systemd-networkd enabled by the real systemctl,
 * and no write leaving the root through a symlink in it. The real image boots under LXC in
 * images-lxc-container.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Host } from '../../src/config/host.js';
import { loadConfig } from '../../src/config/load.js';
import { CleanupStack, type BuildContext } from '../../src/context.js';
import { UserError } from '../../src/errors.js';
import { OUTPUTS } from '../../src/outputs/index.js';
import { needs, unavailable } from '../skip.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: null, kvm: false };
const PYTHON = '/usr/bin/python3';
const TOOLS = ['getfattr', 'xz', 'tar', 'sha256sum', 'systemctl', 'mknod', PYTHON];
// root: device nodes in the root.
const skip = unavailable(needs(TOOLS) ?? (spawnSync(PYTHON, ['-c', 'import yaml']).status !== 0 ? 'needs python3-yaml' : undefined));

const work = mkdtempSync('/var/tmp/kiln-lxc-outputs-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NETWORKD_UNIT = '[Unit]\nDescription=Network Configuration\n\n[Service]\nExecStart=/usr/lib/systemd/systemd-networkd\n\n[Install]\nWantedBy=multi-user.target\n';

let count = 0;

/**
 * A configuration from a real mkosi.default, and a root that looks like a systemd image with
 * systemd-networkd (disabled, as Debian ships it), a device node, and two symlinks that lead out of
 * the root: /etc/hosts to a file on the host, /etc/systemd/network to a directory on the host.
 */
function prepare(settings: string, options: { networkManager?: boolean } = {}): { context: BuildContext; outside: string } {
  const dir = path.join(work, `project-${++count}`);
  const root = path.join(dir, 'root');
  const outside = path.join(dir, 'outside');
  for (const sub of ['usr/lib/systemd/system', 'usr/sbin', 'etc/systemd', 'dev']) mkdirSync(path.join(root, sub), { recursive: true });
  mkdirSync(path.join(dir, 'staging'));
  mkdirSync(path.join(outside, 'network'), { recursive: true });
  writeFileSync(path.join(outside, 'hosts'), '127.0.0.1 the-host\n');
  writeFileSync(path.join(root, 'usr/lib/os-release'), 'ID=debian\n');
  writeFileSync(path.join(root, 'usr/lib/systemd/systemd-networkd'), '', { mode: 0o755 });
  writeFileSync(path.join(root, 'usr/lib/systemd/system/systemd-networkd.service'), NETWORKD_UNIT);
  if (options.networkManager) writeFileSync(path.join(root, 'usr/sbin/NetworkManager'), '', { mode: 0o755 });
  symlinkSync(path.join(outside, 'hosts'), path.join(root, 'etc/hosts'));
  symlinkSync(path.join(outside, 'network'), path.join(root, 'etc/systemd/network'));
  execFileSync('mknod', ['-m', '666', path.join(root, 'dev/null'), 'c', '1', '3']);
  writeFileSync(path.join(dir, 'mkosi.default'), `[Distribution]\nDistribution=debian\nRelease=bookworm\nArchitecture=x86_64\n${settings}`);
  const { config } = loadConfig({ directory: dir, commandLine: [], host: HOST, env: { PATH: process.env.PATH }, cwd: dir });
  const context: BuildContext = {
    config,
    phase: 'final',
    directory: dir,
    workspace: dir,
    root,
    staging: path.join(dir, 'staging'),
    outputDirectory: path.dirname(config.Output),
    packageCache: path.join(dir, 'cache'),
    cleanup: new CleanupStack(),
    artifacts: [],
    packages: [],
    nspawnFlags: [],
    reproducibility: { epoch: null, seed: null },
    reusedCachedRoot: false,
    debug: [],
  };
  return { context, outside };
}

const sha256sum = (file: string): string => execFileSync('sha256sum', [file]).toString().split(' ')[0]!;
const list = (file: string): string[] => execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trimEnd().split('\n');
const member = (file: string, name: string): string => execFileSync('tar', ['-xOf', file, name], { encoding: 'utf8' });
const symlinkIn = (file: string, name: string): string => {
  const line = execFileSync('tar', ['-tvf', file, name], { encoding: 'utf8' });
  return line.slice(line.indexOf(' -> ') + 4).trim();
};

/** Nothing was written through the symlinks: the host's files are as they were. */
function expectOutsideUntouched(outside: string): void {
  expect(readFileSync(path.join(outside, 'hosts'), 'utf8')).toBe('127.0.0.1 the-host\n');
  expect(readdirSync(path.join(outside, 'network'))).toEqual([]);
}

describe.skipIf(skip)('Format=lxc', () => {
  it('writes image.rootfs.tar.xz and image.meta.tar.xz, both xz and checksummed', async () => {
    const { context, outside } = prepare('[Output]\nFormat=lxc\n[Validation]\nChecksum=yes\n');
    await OUTPUTS.lxc!.check!(context.config, context.outputDirectory);
    await OUTPUTS.lxc!.write(context);
    const rootfs = path.join(context.staging, 'image.rootfs.tar.xz');
    const meta = path.join(context.staging, 'image.meta.tar.xz');
    expect(context.artifacts).toEqual([
      { name: 'image.rootfs.tar.xz', path: rootfs, sha256: sha256sum(rootfs), checksummed: true },
      { name: 'image.meta.tar.xz', path: meta, sha256: sha256sum(meta), checksummed: true },
    ]);
    for (const file of [rootfs, meta]) execFileSync('xz', ['-t', file]);

    expect(list(meta)).toEqual([
      './', './config', './config-user', './config-user.1', './config-user.2', './config-user.3', './config-user.4',
      './config.1', './config.2', './config.3', './config.4', './create-message', './excludes-user', './expiry', './templates',
    ]);
    expect(member(meta, './config')).toBe('lxc.include = LXC_TEMPLATE_CONFIG/common.conf\nlxc.arch = linux64\n');
    expect(member(meta, './excludes-user')).toBe('./dev/null\n');
    expect(Number(member(meta, './expiry'))).toBeGreaterThan(Date.now() / 1000 + 29 * 86400);

    // The root as lxc-create unpacks it, with LXC_NAME where lxc-create puts the container's name.
    expect(member(rootfs, './etc/hostname')).toBe('LXC_NAME\n');
    expect(member(rootfs, './etc/hosts')).toMatch(/^127\.0\.1\.1\tLXC_NAME$/m);
    expect(member(rootfs, './usr/lib/os-release')).toBe('ID=debian\n');
    expect(list(rootfs)).toContain('./dev/null');
    expectOutsideUntouched(outside);
  });

  it('gives eth0 DHCP through systemd-networkd, enabled with systemctl, inside the root', async () => {
    const { context, outside } = prepare('[Output]\nFormat=lxc\n');
    await OUTPUTS.lxc!.write(context);
    const rootfs = path.join(context.staging, 'image.rootfs.tar.xz');
    // /etc/systemd/network led out of the root; the write resolved it inside the root instead.
    expect(member(rootfs, `.${outside}/network/eth0.network`)).toMatch(/^\[Match\]\nName=eth0\n\n\[Network\]\nDHCP=true\n/);
    const wants = path.join(context.root, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service');
    expect(readlinkSync(wants)).toBe('/usr/lib/systemd/system/systemd-networkd.service');
    expect(symlinkIn(rootfs, './etc/systemd/system/multi-user.target.wants/systemd-networkd.service')).toBe('/usr/lib/systemd/system/systemd-networkd.service');
    expectOutsideUntouched(outside);
  });

  it('leaves the network alone when another network manager is in the image', async () => {
    const { context } = prepare('[Output]\nFormat=lxc\n', { networkManager: true });
    await OUTPUTS.lxc!.write(context);
    const names = list(path.join(context.staging, 'image.rootfs.tar.xz'));
    expect(names.filter((name) => name.includes('eth0.network') || name.includes('multi-user.target.wants'))).toEqual([]);
  });

  it('refuses any compression but xz before the build, and UsrOnly=', async () => {
    await expect(OUTPUTS.lxc!.check!(prepare('[Output]\nFormat=lxc\nCompressOutput=zstd\n').context.config, work)).rejects.toThrow(
      new UserError("Format=lxc is always compressed with xz (LXC's lxc-local template unpacks it with tar -J), so CompressOutput=zstd cannot apply", {
        hint: 'remove CompressOutput= or set it to xz',
      }),
    );
    await expect(OUTPUTS.lxc!.check!(prepare('[Output]\nFormat=lxc\nCompressOutput=no\n').context.config, work)).rejects.toThrow(/so CompressOutput=no cannot apply/);
    await expect(OUTPUTS.lxc!.check!(prepare('[Output]\nFormat=lxc\nUsrOnly=yes\n').context.config, work)).rejects.toThrow(/UsrOnly= cannot apply/);
  });
});

describe.skipIf(skip)('Format=incus', () => {
  it('writes one tarball: metadata.yaml first, then templates/, then the root under rootfs/', async () => {
    const { context, outside } = prepare('[Output]\nFormat=incus\nHostname=built-as\n[Validation]\nChecksum=yes\n');
    await OUTPUTS.incus!.write(context);
    const file = path.join(context.staging, 'image.incus.tar.xz');
    expect(context.artifacts).toEqual([{ name: 'image.incus.tar.xz', path: file, sha256: sha256sum(file), checksummed: true }]);
    const names = list(file);
    expect(names.slice(0, 6)).toEqual(['./', './metadata.yaml', './templates', './templates/hostname.tpl', './templates/hosts.tpl', './rootfs']);
    expect(names.slice(6).every((name) => name.startsWith('./rootfs/'))).toBe(true);
    expect(names).toContain('./rootfs/usr/lib/os-release');

    const yaml = execFileSync(PYTHON, ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], { input: member(file, './metadata.yaml'), encoding: 'utf8' });
    const metadata = JSON.parse(yaml) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      architecture: 'x86_64',
      properties: { os: 'debian', release: 'bookworm', architecture: 'amd64', variant: 'default' },
      templates: { '/etc/hostname': { template: 'hostname.tpl', when: ['create', 'copy'] }, '/etc/hosts': { template: 'hosts.tpl', when: ['create', 'copy'] } },
    });
    expect(metadata.creation_date).toBeTypeOf('number');
    expect(metadata.expiry_date).toBe((metadata.creation_date as number) + 30 * 86400);
    expect(member(file, './templates/hostname.tpl')).toBe('{{ container.name }}\n');
    expect(member(file, './templates/hosts.tpl')).toMatch(/^127\.0\.1\.1\t\{\{ container\.name \}\}$/m);

    // Unpacked as Incus unpacks it: the root is under rootfs/, with DHCP on eth0.
    const unpacked = mkdtempSync(path.join(work, 'unpacked-'));
    execFileSync('tar', ['--numeric-owner', '-xpf', file, '-C', unpacked]);
    expect(readFileSync(path.join(unpacked, 'rootfs/usr/lib/os-release'), 'utf8')).toBe('ID=debian\n');
    expect(readlinkSync(path.join(unpacked, 'rootfs/etc/systemd/system/multi-user.target.wants/systemd-networkd.service'))).toBe('/usr/lib/systemd/system/systemd-networkd.service');
    expectOutsideUntouched(outside);
  });

  it('compresses as CompressOutput= says, or not at all', async () => {
    const { context } = prepare('[Output]\nFormat=incus\nCompressOutput=no\n');
    expect(OUTPUTS.incus!.requiredTools(context.config)).toEqual(['getfattr', 'systemctl']);
    await OUTPUTS.incus!.write(context);
    expect(list(path.join(context.staging, 'image.incus.tar'))[1]).toBe('./metadata.yaml');
  });
});
