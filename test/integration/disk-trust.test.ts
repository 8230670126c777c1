/**
 * Issue 18's disk settings, proved with the tools that consume them, on plain files with every loop
 * device masked:
 * - one disk from the shared Debian tree with Verity=signed, SplitArtifacts=, Minimize=, GPTFirstLBA=,
 *   VarSize=, TmpSize=, BiosSize= and BMap=: sfdisk -V, the partition types and UUIDs derived from
 *   the root hash, veritysetup verify (and its refusal once one byte of the root is flipped), the
 *   PKCS#7 signature checked by openssl, the split files equal to the partitions, e2fsck of the
 *   minimized root, systemd-dissect seeing a signed verity root, and bmaptool copy + cmp;
 * - one small disk (an os-release and /home's file: encryption needs no Debian in it) with
 *   Encrypt=all, HomeSize=, SplitArtifacts=, BMap= and Checksum=: SHA256SUMS lists
 *   every file, the root and /home partitions are LUKS2 that open with mkosi.passphrase and not with
 *   another, the decrypted /home passes e2fsck and holds its file, and the passphrase is in no
 *   output and not in kiln's log;
 * - Format=cpio of the shared Debian tree: GNU cpio lists exactly the tree's entries and extracts its files.
 */
import { createDecipheriv } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  copyTree,
  debianFixture,
  ensureDist,
  ensureUdev,
  extractPartition,
  partitionTable,
  run,
  sh,
  sha256File,
  smallTree,
  tempDir,
  writeWithoutLoopDevices,
  type TablePartition,
} from './disk-helpers.js';
import { whyNotRoot } from './helpers/kiln.js';

const skip = whyNotRoot(['mmdebstrap', 'unshare', 'sfdisk', 'systemd-dissect', 'veritysetup', 'cryptsetup', 'bmaptool', 'openssl', 'resize2fs']);

const TYPES = {
  bios: '21686148-6449-6E6F-744E-656564454649',
  var: '4D21B016-B534-45C2-A9FB-5C16E091FD2D',
  tmp: '7EC6F557-3BC5-4ACA-B293-16EF5DF639D1',
  root: '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
  verity: '2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5',
  signature: '41092B05-9FC8-4523-994F-2DEF0408B176',
};

const PASSPHRASE = 'kiln-test correct horse battery staple';

let base: string;
let root: string;
/** The tree of the encrypted and the UsrOnly= disks: what is proved there needs no Debian in it, and their disks are small. */
let small: string;
let stopUdev: () => void = () => undefined;

beforeAll(() => {
  if (skip) return;
  ensureDist();
  base = tempDir('kiln-trust-');
  root = path.join(base, 'root');
  copyTree(debianFixture(), root);
  fs.mkdirSync(path.join(root, 'home/user'), { recursive: true });
  fs.writeFileSync(path.join(root, 'home/user/note'), 'kept in the encrypted home\n');
  small = smallTree(root, path.join(base, 'small'));
  fs.mkdirSync(path.join(small, 'home/user'));
  fs.copyFileSync(path.join(root, 'home/user/note'), path.join(small, 'home/user/note'));
  stopUdev = ensureUdev();
}, 15 * 60_000);

/** Writes one output of the shared tree with kiln's writer, every loop device masked. */
function write(name: string, lines: readonly string[], prepare?: (dir: string) => void, tree = root): { dir: string; stderr: string; ms: number } {
  const dir = path.join(base, name);
  fs.mkdirSync(dir);
  prepare?.(dir);
  const result = writeWithoutLoopDevices(dir, ['[Distribution]', 'Distribution=debian', 'Release=bookworm', ...lines, ''].join('\n'), tree);
  if (result.status !== 0) throw new Error(`writing ${name} failed: ${result.error}\n${result.stderr}`);
  console.log(`${name}: written in ${result.ms} ms`);
  return { dir, stderr: result.stderr, ms: result.ms ?? 0 };
}

afterAll(() => {
  stopUdev();
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

const uuidOf = (hex: string): string => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`.toUpperCase();

describe.skipIf(skip)('gpt_ext4 with Verity=signed, SplitArtifacts=, Minimize=, GPTFirstLBA=, VarSize=, TmpSize=, BiosSize=, BMap=', () => {
  let dir: string;
  let image: string;
  let table: ReturnType<typeof partitionTable>;
  let rootHash: string;
  const part = (type: string): TablePartition => table.partitions.find((p) => p.type === type)!;

  beforeAll(() => {
    ({ dir } = write(
      'verity',
      [
        '[Output]',
        'Format=gpt_ext4',
        'Verity=signed',
        'SplitArtifacts=yes',
        'Minimize=yes',
        'GPTFirstLBA=64',
        '[Partitions]',
        // Made at this size, then shrunk: the default 3G only makes mke2fs and resize2fs work longer.
        'RootSize=1G',
        'VarSize=200M',
        'TmpSize=32M',
        'BiosSize=1M',
        '[Validation]',
        'BMap=yes',
      ],
      (at) =>
        sh(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(at, 'mkosi.secure-boot.key'), '-out', path.join(at, 'mkosi.secure-boot.crt'), '-days', '2', '-subj', '/CN=kiln test']),
    ));
    image = path.join(dir, 'image.raw');
    table = partitionTable(image);
    rootHash = fs.readFileSync(path.join(dir, 'image.root.roothash'), 'utf8').trim();
  }, 15 * 60_000);

  it('has a table sfdisk verifies, starting at GPTFirstLBA= with the partitions in mkosi 14 order and types', () => {
    expect(sh(['sfdisk', '--verify', image])).toContain('No errors detected');
    expect(table.firstlba).toBe(64);
    expect(table.partitions[0]!.start).toBe(64);
    expect(table.partitions.map((p) => p.type)).toEqual(Object.values(TYPES));
    expect(table.partitions.map((p) => p.name)).toEqual([
      'BIOS Boot Partition',
      'Variable Data Partition',
      'Temporary Data Partition',
      'Root Partition',
      'Root Verity',
      'Root Signature',
    ]);
  });

  it('names the root and verity partitions by the root hash, and the verity data checks out', () => {
    expect(rootHash).toMatch(/^[0-9a-f]{64}$/);
    expect(part(TYPES.root).uuid).toBe(uuidOf(rootHash.slice(0, 32)));
    expect(part(TYPES.verity).uuid).toBe(uuidOf(rootHash.slice(32)));
    const rootPart = extractPartition(image, part(TYPES.root), path.join(base, 'root.part'));
    const verityPart = extractPartition(image, part(TYPES.verity), path.join(base, 'verity.part'));
    expect(run(['veritysetup', 'verify', rootPart, verityPart, rootHash]).status).toBe(0);
    // One flipped byte in the root file system: the hash tree no longer matches.
    const handle = fs.openSync(rootPart, 'r+');
    const byte = Buffer.alloc(1);
    fs.readSync(handle, byte, 0, 1, 1024 * 1024 + 17);
    byte[0] = byte[0]! ^ 0xff;
    fs.writeSync(handle, byte, 0, 1, 1024 * 1024 + 17);
    fs.closeSync(handle);
    const tampered = run(['veritysetup', 'verify', rootPart, verityPart, rootHash]);
    expect(tampered.status).not.toBe(0);
    expect(tampered.stderr).toMatch(/corrupt|verification failed/i);
  });

  it('signs the root hash: openssl verifies .roothash.p7s, and the signature partition holds it as mkosi 14 writes it', () => {
    const data = path.join(base, 'roothash.data');
    fs.writeFileSync(data, rootHash);
    const p7s = path.join(dir, 'image.root.roothash.p7s');
    const verify = run(['openssl', 'smime', '-verify', '-binary', '-inform', 'DER', '-in', p7s, '-content', data, '-certfile', path.join(dir, 'mkosi.secure-boot.crt'), '-nointern', '-noverify']);
    expect(verify.status, verify.stderr).toBe(0);
    fs.writeFileSync(data, rootHash.replace(/^./, (c) => (c === '0' ? '1' : '0')));
    expect(run(['openssl', 'smime', '-verify', '-binary', '-inform', 'DER', '-in', p7s, '-content', data, '-certfile', path.join(dir, 'mkosi.secure-boot.crt'), '-nointern', '-noverify']).status).not.toBe(0);
    const json = fs.readFileSync(extractPartition(image, part(TYPES.signature), path.join(base, 'sig.part'))).toString('utf8').replace(/\0+$/, '');
    const signature = JSON.parse(json) as { rootHash: string; certificateFingerprint: string; signature: string };
    expect(signature.rootHash).toBe(rootHash);
    expect(Buffer.from(signature.signature, 'base64').equals(fs.readFileSync(p7s))).toBe(true);
    const fingerprint = sh(['openssl', 'x509', '-noout', '-fingerprint', '-sha256', '-in', path.join(dir, 'mkosi.secure-boot.crt')]).split('=')[1]!.trim().replaceAll(':', '').toLowerCase();
    expect(signature.certificateFingerprint).toBe(fingerprint);
  });

  it('writes the split root and verity files equal to their partitions, and a minimized root that e2fsck passes', () => {
    const rootPart = extractPartition(image, part(TYPES.root), path.join(base, 'root-clean.part'));
    expect(sha256File(path.join(dir, 'image.root.raw'))).toBe(sha256File(rootPart));
    const verityPart = extractPartition(image, part(TYPES.verity), path.join(base, 'verity2.part'));
    const verity = fs.readFileSync(path.join(dir, 'image.root.verity'));
    expect(fs.readFileSync(verityPart).subarray(0, verity.length).equals(verity)).toBe(true);
    expect(run(['e2fsck', '-fn', rootPart]).status).toBe(0);
    // Minimize=: the root is as large as its blocks need, far below its RootSize=1G.
    const blocks = Number(/^Block count:\s+(\d+)/m.exec(sh(['dumpe2fs', '-h', rootPart]))![1]) * 4096;
    expect(part(TYPES.root).size * 512).toBe(Math.ceil(blocks / (1024 * 1024)) * 1024 * 1024);
    expect(part(TYPES.root).size * 512).toBeLessThan(600 * 1024 * 1024);
  });

  it('is seen by systemd-dissect as a read-only root with a signed verity', () => {
    const report = sh(['systemd-dissect', image]);
    expect(report).toMatch(/^ro root .* ext4 +x86-64 +signed /m);
    expect(report).toMatch(/^ro root-verity-sig /m);
    expect(report).toMatch(/^rw var .* Variable Data Partition +ext4 /m);
  });

  it('has a .bmap that bmaptool copy takes to reproduce the image byte for byte', () => {
    const copy = path.join(base, 'copy.raw');
    const result = run(['bmaptool', 'copy', '--bmap', path.join(dir, 'image.bmap'), image, copy]);
    expect(result.status, result.stderr).toBe(0);
    expect(run(['cmp', image, copy]).status).toBe(0);
    fs.rmSync(copy);
  });
});

/** Decrypts one LUKS2 segment (aes-xts-plain64, 512-byte sectors) with the volume key: a second reader, beside cryptsetup's own checks. */
function decryptLuks(file: string, keyFile: string, target: string): void {
  const keyOut = path.join(base, 'volume.key');
  sh(['cryptsetup', 'luksDump', '--batch-mode', '--dump-volume-key', '--volume-key-file', keyOut, '--key-file', keyFile, file]);
  const dump = sh(['cryptsetup', 'luksDump', file]);
  expect(dump).toMatch(/cipher: aes-xts-plain64/);
  expect(dump).toMatch(/sector: 512 \[bytes\]/);
  const offset = Number(/^\s+offset: (\d+) \[bytes\]/m.exec(dump)![1]);
  const key = fs.readFileSync(keyOut);
  fs.rmSync(keyOut);
  const input = fs.readFileSync(file);
  const output = Buffer.alloc(input.length - offset);
  const iv = Buffer.alloc(16);
  for (let sector = 0; sector * 512 < output.length; sector++) {
    iv.fill(0);
    iv.writeBigUInt64LE(BigInt(sector));
    const decipher = createDecipheriv('aes-256-xts', key, iv).setAutoPadding(false);
    decipher.update(input.subarray(offset + sector * 512, offset + sector * 512 + 512)).copy(output, sector * 512);
  }
  fs.writeFileSync(target, output);
}

describe.skipIf(skip)('gpt_ext4 with Encrypt=all, HomeSize=, SplitArtifacts=, BMap=, Checksum=', () => {
  // (bmaptool copy is proved on the verity disk; here the .bmap must be listed and covered.)
  let out: string;
  let passphrase: string;
  let stderr: string;
  let table: ReturnType<typeof partitionTable>;

  beforeAll(() => {
    ({ dir: out, stderr } = write('encrypted', ['[Output]', 'Format=gpt_ext4', 'Encrypt=all', 'SplitArtifacts=yes', '[Partitions]', 'RootSize=64M', 'HomeSize=32M', '[Validation]', 'Checksum=yes', 'BMap=yes'], (at) => {
      passphrase = path.join(at, 'mkosi.passphrase');
      fs.writeFileSync(passphrase, PASSPHRASE, { mode: 0o600 });
    }, small));
    table = partitionTable(path.join(out, 'image.raw'));
  }, 15 * 60_000);

  it('lists the image, the split root and the block map in SHA256SUMS', () => {
    const sums = fs.readFileSync(path.join(out, 'SHA256SUMS'), 'utf8');
    for (const name of ['image.raw', 'image.root.raw', 'image.bmap']) {
      expect(sums).toContain(`${sha256File(path.join(out, name))} *${name}\n`);
      expect(fs.statSync(path.join(out, name)).mode & 0o777).toBe(0o644);
    }
    expect(sh(['sfdisk', '--verify', path.join(out, 'image.raw')])).toContain('No errors detected');
  });

  it('makes the root and /home LUKS2 that open with mkosi.passphrase only; the split root is the encrypted partition', () => {
    const wrong = path.join(base, 'wrong-passphrase');
    fs.writeFileSync(wrong, `${PASSPHRASE}!`, { mode: 0o600 });
    for (const p of table.partitions) {
      const file = extractPartition(path.join(out, 'image.raw'), p, path.join(base, `${p.name.replaceAll(' ', '-')}.luks`));
      expect(sh(['cryptsetup', 'luksDump', file])).toMatch(/^Version:\s+2$/m);
      expect(run(['cryptsetup', 'open', '--test-passphrase', '--key-file', passphrase, file]).status).toBe(0);
      expect(run(['cryptsetup', 'open', '--test-passphrase', '--key-file', wrong, file]).status).not.toBe(0);
      if (p.name === 'Root Partition') expect(sha256File(path.join(out, 'image.root.raw'))).toBe(sha256File(file));
    }
  });

  it('holds an ext4 /home under the encryption that e2fsck passes, with its file', () => {
    const home = table.partitions.find((p) => p.name === 'Home Partition')!;
    const luks = extractPartition(path.join(out, 'image.raw'), home, path.join(base, 'home.luks'));
    const plain = path.join(base, 'home.ext4');
    decryptLuks(luks, passphrase, plain);
    expect(run(['e2fsck', '-fn', plain]).status).toBe(0);
    expect(sh(['debugfs', '-R', 'cat /user/note', plain])).toBe('kept in the encrypted home\n');
  });

  it('puts the passphrase in no output and not in the log', () => {
    expect(stderr).not.toContain(PASSPHRASE);
    for (const name of fs.readdirSync(out).filter((n) => n !== 'mkosi.passphrase')) {
      expect(run(['grep', '-c', '--fixed-strings', PASSPHRASE, path.join(out, name)]).stdout.trim(), name).toBe('0');
    }
  });
});

describe.skipIf(skip)('Format=cpio', () => {
  it('is a newc archive GNU cpio lists entry for entry like the tree, and extracts with its contents', () => {
    const { dir } = write('cpio', ['[Output]', 'Format=cpio', '[Validation]', 'Checksum=yes']);
    const archive = path.join(dir, 'image.cpio');
    expect(fs.readFileSync(archive).subarray(0, 6).toString()).toBe('070701');
    const listed = sh(['sh', '-c', 'cpio -it --quiet < "$1"', 'sh', archive]).trim().split('\n');
    const tree = sh(['find', '.', '-mindepth', '1', '-printf', '%P\\n'], { cwd: root }).trim().split('\n');
    expect(listed.slice().sort()).toEqual(tree.slice().sort());
    expect(listed.indexOf('etc')).toBeLessThan(listed.indexOf('etc/os-release'));
    const extracted = path.join(base, 'cpio-out');
    fs.mkdirSync(extracted);
    sh(['sh', '-c', 'cpio -idm --quiet home/user/note < "$1"', 'sh', archive], { cwd: extracted });
    expect(fs.readFileSync(path.join(extracted, 'home/user/note'), 'utf8')).toBe('kept in the encrypted home\n');
    expect(fs.readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8')).toBe(`${sha256File(archive)} *image.cpio\n`);
  });
});

describe.skipIf(skip)('gpt_squashfs with UsrOnly= and Verity=', () => {
  it('holds /usr alone in a /usr partition with its verity partition, as systemd-dissect sees them', () => {
    // The small tree: what is proved is the layout, and its /usr has the os-release it needs.
    const { dir } = write('usr-only', ['[Output]', 'Format=gpt_squashfs', 'Verity=yes', '[Partitions]', 'UsrOnly=yes'], undefined, small);
    const image = path.join(dir, 'image.raw');
    const usrHash = fs.readFileSync(path.join(dir, 'image.usr.usrhash'), 'utf8').trim();
    const table = partitionTable(image);
    expect(table.partitions.map((p) => [p.type, p.name, p.uuid])).toEqual([
      ['8484680C-9521-48C6-9C11-B0720656F69E', 'System Resources Partition', uuidOf(usrHash.slice(0, 32))],
      ['77FF5F63-E7B6-4633-ACF4-1565B864C0E6', 'System Resources Verity', uuidOf(usrHash.slice(32))],
    ]);
    const usr = extractPartition(image, table.partitions[0]!, path.join(base, 'usr.part'));
    expect(run(['veritysetup', 'verify', usr, extractPartition(image, table.partitions[1]!, path.join(base, 'usr-verity.part')), usrHash]).status).toBe(0);
    // The file system's root is /usr itself.
    expect(sh(['unsquashfs', '-l', '-d', '', usr, '/lib/os-release'])).toContain('/lib/os-release');
    // systemd 252's dissect takes no usr hash, so it names the pair without verifying it ("no").
    const report = sh(['systemd-dissect', image]);
    expect(report).toMatch(/^ro usr .* System Resources Partition +squashfs +x86-64 /m);
    expect(report).toMatch(/^ro usr-verity .* DM_verity_hash +x86-64 /m);
  });
});
