/**
 * A unified kernel image: systemd's EFI stub with the kernel, the initrd, the command line and
 * os-release added as PE sections, made with objcopy as mkosi 14's install_unified_kernel() does.
 * systemd-boot lists every such file in EFI/Linux/ of the ESP, without a boot entry.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { readOsRelease } from '../config/host.js';
import { run } from '../run.js';

export interface UkiSection {
  readonly name: string;
  readonly file: string;
  /** Virtual address: sections must not overlap once loaded. */
  readonly vma: number;
}

export interface UkiParts {
  /** Host paths of the stub, the kernel and the (compressed) initrd. */
  readonly stub: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly osRelease: string;
  readonly commandLine: string;
  /** More sections, such as Secure Boot's PCR signature (.pcrsig, .pcrpkey), where they go. */
  readonly extraSections?: readonly UkiSection[];
  /**
   * Sections made from the others' files once they are written (SignExpectedPCR=: the signature of
   * what the stub will measure); their files go to `scratch`, removed with it.
   */
  readonly measure?: (files: { kernel: string; initrd: string; osRelease: string; commandLine: string }, scratch: string) => Promise<readonly UkiSection[]>;
}

/** mkosi 14's addresses for the small sections and the kernel, which systemd 252's stub is built for. */
const OSREL_VMA = 0x20000;
const CMDLINE_VMA = 0x30000;
const LINUX_VMA = 0x2000000;
/** mkosi 14 put the initrd at 0x3000000, which a kernel above 16 MiB would overlap; it moves up then. */
const INITRD_VMA = 0x3000000;
const PAGE = 0x1000;

export function initrdAddress(kernelSize: number): number {
  return Math.max(INITRD_VMA, Math.ceil((LINUX_VMA + kernelSize) / PAGE) * PAGE);
}

/**
 * systemd-boot orders and names unified kernel images by os-release's VERSION_ID or BUILD_ID; a
 * release without either (Debian testing, Arch) gets a BUILD_ID, as mkosi 14 adds one.
 */
export function osReleaseForUki(text: string, release: string): string {
  const fields = readOsRelease(text);
  if (fields.VERSION_ID !== undefined || fields.BUILD_ID !== undefined) return text;
  return `${text.endsWith('\n') || text === '' ? text : `${text}\n`}BUILD_ID=kiln-${release}\n`;
}

/** The objcopy argv that turns the stub into `output`. */
export function ukiArgv(parts: UkiParts, files: { osRelease: string; commandLine: string }, kernelSize: number, output: string): string[] {
  const sections: UkiSection[] = [
    { name: '.osrel', file: files.osRelease, vma: OSREL_VMA },
    { name: '.cmdline', file: files.commandLine, vma: CMDLINE_VMA },
    { name: '.linux', file: parts.kernel, vma: LINUX_VMA },
    { name: '.initrd', file: parts.initrd, vma: initrdAddress(kernelSize) },
    ...(parts.extraSections ?? []),
  ];
  const argv = ['objcopy'];
  for (const section of sections) {
    argv.push('--add-section', `${section.name}=${section.file}`, '--change-section-vma', `${section.name}=0x${section.vma.toString(16)}`);
  }
  argv.push(parts.stub, output);
  return argv;
}

/** Writes the unified kernel image `output`; `scratch` holds the small section files meanwhile. */
export async function buildUki(parts: UkiParts, output: string, scratch: string, searchPaths: readonly string[] = []): Promise<void> {
  const dir = await fs.mkdtemp(path.join(scratch, 'uki-'));
  try {
    const files = { osRelease: path.join(dir, 'os-release'), commandLine: path.join(dir, 'cmdline') };
    await fs.writeFile(files.osRelease, parts.osRelease);
    await fs.writeFile(files.commandLine, parts.commandLine);
    const kernelSize = (await fs.stat(parts.kernel)).size;
    const measured = parts.measure ? await parts.measure({ kernel: parts.kernel, initrd: parts.initrd, ...files }, dir) : [];
    const all = measured.length > 0 ? { ...parts, extraSections: [...(parts.extraSections ?? []), ...measured] } : parts;
    await run(ukiArgv(all, files, kernelSize, output), {
      what: `Making the unified kernel image ${path.basename(output)}`,
      searchPaths,
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
