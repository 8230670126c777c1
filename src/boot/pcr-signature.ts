/**
 * SignExpectedPCR= (mkosi 14): `systemd-measure sign` computes the PCR 11 values the unified kernel
 * image will produce at each boot phase, and signs the TPM2 policy for them with SecureBootKey=; the
 * JSON goes into the image's .pcrsig section and the certificate's public key into .pcrpkey, so that
 * a disk bound with systemd-cryptenroll --tpm2-public-key unlocks with any image signed by that key.
 *
 * systemd 252's systemd-measure (Debian 12) computes the policy digest on a TPM. A build host has
 * none, as a rule: kiln then runs a throwaway software TPM (swtpm) for that one command. The digest
 * depends only on the PCR values, not on the TPM, so the signature is the same as with real hardware.
 * mkosi 14 found systemd-measure only on $PATH (Debian keeps it in /usr/lib/systemd) and needed a TPM.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { hasEsp } from '../disk/layout.js';
import { ToolError, UserError } from '../errors.js';
import { run, spawn } from '../run.js';
import { certificatePublicKey } from './secure-boot-key.js';
import type { UkiSection } from './uki.js';

/** Where distributions keep systemd-measure, off $PATH. */
export const SYSTEMD_LIBEXEC = ['/usr/lib/systemd', '/lib/systemd'];

/** mkosi 14's addresses of the two sections, between .cmdline and .linux. */
const PCRSIG_VMA = 0x80000;
const PCRPKEY_VMA = 0x100000;

/** The kernel's TPM resource manager: with it, systemd-measure needs no software TPM. */
const TPM_DEVICE = '/dev/tpmrm0';

export function signsExpectedPcr(config: Config): boolean {
  return config.SecureBoot && config.Bootable && config.SignExpectedPCR === true && config.WithUnifiedKernelImages && hasEsp(config);
}

function needsSoftwareTpm(): boolean {
  return !existsSync(TPM_DEVICE);
}

export function measureTools(config: Config): string[] {
  if (!signsExpectedPcr(config)) return [];
  return needsSoftwareTpm() ? ['systemd-measure', 'swtpm'] : ['systemd-measure'];
}

/** A shared library systemd-measure loads with dlopen() (so no package depends on it), and its Debian package. */
export interface TpmLibrary {
  readonly name: string;
  readonly package: string;
}

export function tpmLibraries(softwareTpm = needsSoftwareTpm()): TpmLibrary[] {
  return [
    { name: 'libtss2-esys.so.0', package: 'libtss2-esys-3.0.2-0' },
    { name: 'libtss2-rc.so.0', package: 'libtss2-rc0' },
    { name: 'libtss2-mu.so.0', package: 'libtss2-mu0' },
    softwareTpm ? { name: 'libtss2-tcti-swtpm.so.0', package: 'libtss2-tcti-swtpm0' } : { name: 'libtss2-tcti-device.so.0', package: 'libtss2-tcti-device0' },
  ];
}

/** The places the dynamic loader finds a library of the host's architecture. */
export function libraryPaths(name: string): string[] {
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return [`/usr/lib/${triplet}`, `/lib/${triplet}`, '/usr/lib64', '/usr/lib'].map((dir) => path.join(dir, name));
}

/** What SignExpectedPCR=yes lacks on this host, as one-line messages (the programs are checked with the other tools). */
export function measureProblems(config: Config): string[] {
  if (!signsExpectedPcr(config)) return [];
  const missing = tpmLibraries().filter((library) => !libraryPaths(library.name).some((file) => existsSync(file)));
  if (missing.length === 0) return [];
  return [
    `SignExpectedPCR=yes: systemd-measure needs the TPM2 libraries ${missing.map((l) => l.name).join(', ')}; install them with: apt-get install ${missing.map((l) => l.package).join(' ')}`,
  ];
}

export interface MeasuredParts {
  readonly kernel: string;
  readonly initrd: string;
  readonly osRelease: string;
  readonly commandLine: string;
}

/** Runs a software TPM on a socket in a directory of its own for `use`, and ends it afterwards. */
async function withSoftwareTpm<T>(use: (device: string | undefined) => Promise<T>): Promise<T> {
  if (!needsSoftwareTpm()) return use(undefined);
  // A short path: the socket's name must fit in sockaddr_un.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-swtpm-'));
  const socket = path.join(dir, 'tpm');
  const argv = ['swtpm', 'socket', '--tpm2', '--tpmstate', `dir=${dir}`, '--server', `type=unixio,path=${socket}`, '--ctrl', `type=unixio,path=${socket}.ctrl`, '--flags', 'not-need-init,startup-clear'];
  const child = spawn(argv, { what: 'Starting a software TPM (swtpm) for systemd-measure' });
  const exited = child.then(() => undefined, () => undefined);
  try {
    for (let waited = 0; !(existsSync(socket) && existsSync(`${socket}.ctrl`)); waited += 20) {
      if (waited > 10_000 || child.exitCode !== null) throw new UserError('SignExpectedPCR=yes: the software TPM (swtpm) did not start', { hint: 'run swtpm socket --tpm2 by hand to see why' });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return await use(`swtpm:path=${socket}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The .pcrsig and .pcrpkey sections for a unified kernel image of these parts; their files go to `scratch`. */
export async function pcrSignatureSections(config: Config, parts: MeasuredParts, scratch: string): Promise<UkiSection[]> {
  const pcrpkey = path.join(scratch, 'pcrpkey.pem');
  const pcrsig = path.join(scratch, 'pcrsig.json');
  await fs.writeFile(pcrpkey, await certificatePublicKey(config.SecureBootCertificate!));
  const stdout = await withSoftwareTpm(async (device) => {
    const argv = [
      'systemd-measure',
      'sign',
      `--linux=${parts.kernel}`,
      `--osrel=${parts.osRelease}`,
      `--cmdline=${parts.commandLine}`,
      `--initrd=${parts.initrd}`,
      `--pcrpkey=${pcrpkey}`,
      `--private-key=${config.SecureBootKey}`,
      `--public-key=${pcrpkey}`,
      '--bank=sha1',
      '--bank=sha256',
      ...(device ? [`--tpm2-device=${device}`] : []),
    ];
    try {
      const result = await run(argv, { read: true, what: 'Signing the expected PCR 11 values (SignExpectedPCR=yes)', searchPaths: [...config.ExtraSearchPaths, ...SYSTEMD_LIBEXEC] });
      return result.stdout;
    } catch (error) {
      if (error instanceof ToolError) {
        throw new UserError(`SignExpectedPCR=yes: systemd-measure sign failed (exit ${error.code ?? '?'}): ${error.stderrTail.split('\n').at(-1) ?? ''}`, {
          hint: 'the TPM2 libraries (libtss2-*) and, without a TPM, swtpm must be installed: kiln doctor lists them',
        });
      }
      throw error;
    }
  });
  if (!stdout.trim().startsWith('{')) throw new UserError('SignExpectedPCR=yes: systemd-measure sign printed no JSON signature');
  await fs.writeFile(pcrsig, stdout.trim());
  return [
    { name: '.pcrsig', file: pcrsig, vma: PCRSIG_VMA },
    { name: '.pcrpkey', file: pcrpkey, vma: PCRPKEY_VMA },
  ];
}
