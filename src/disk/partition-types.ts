/**
 * Partition type GUIDs of the Discoverable Partitions Specification (UAPI group), which is what lets
 * systemd-dissect, systemd-nspawn -i and systemd-gpt-auto-generator find the root, /home, /srv,
 * /var/tmp and swap of an image without an fstab. The root type depends on the CPU architecture of
 * the image; the values are those `systemd-id128 show` prints (systemd 252).
 */

/** Root partition types by architecture as `uname -m` spells it (the form Architecture= uses). */
const ROOT_TYPES: Readonly<Record<string, string>> = {
  x86_64: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709',
  i386: '44479540-f297-41b2-9af7-d131d5f0458a',
  i486: '44479540-f297-41b2-9af7-d131d5f0458a',
  i586: '44479540-f297-41b2-9af7-d131d5f0458a',
  i686: '44479540-f297-41b2-9af7-d131d5f0458a',
  aarch64: 'b921b045-1df0-41c3-af44-4c6f280d3fae',
  arm64: 'b921b045-1df0-41c3-af44-4c6f280d3fae',
  // 32-bit little-endian ARM, whatever the ISA level uname reports.
  armv5tel: '69dad710-2ce4-4e3c-b16c-21a1d49abed3',
  armv6l: '69dad710-2ce4-4e3c-b16c-21a1d49abed3',
  armv7l: '69dad710-2ce4-4e3c-b16c-21a1d49abed3',
  armv7hl: '69dad710-2ce4-4e3c-b16c-21a1d49abed3',
  armv8l: '69dad710-2ce4-4e3c-b16c-21a1d49abed3',
  riscv32: '60d5a7fe-8e7d-435c-b714-3dd8162144e1',
  riscv64: '72ec70a6-cf74-40e6-bd49-4bda08e8f224',
  loongarch64: '77055800-792c-4f94-b39a-98c91b762bb6',
  ppc: '1de3f1ef-fa98-47b5-8dcd-4a860a654d78',
  ppc64: '912ade1d-a839-4913-8964-a10eee08fbd2',
  ppc64le: 'c31c45e6-3f39-412e-80fb-4809c4980599',
  s390: '08a7acea-624c-4a20-91e8-6e0fa67d23f9',
  s390x: '5eead9a9-fe09-4a1e-a1d7-520d00531306',
  ia64: '993d8d3d-f80e-4225-855a-9daf8ed7ea97',
  alpha: '6523f8ae-3eb1-4e2a-a05a-18b695ae656f',
  arc: 'd27f46ed-2919-4cb8-bd25-9531f3c16534',
  parisc: '1aacdb3b-5444-4138-bd9e-e5c2239b2346',
  parisc64: '1aacdb3b-5444-4138-bd9e-e5c2239b2346',
  mips: 'e9434544-6e2c-47cc-bae2-12d6deafb44c',
  mipsel: '37c58c8a-d913-4156-a25f-48b1b64e07f0',
  mips64: 'd113af76-80ef-41b4-bdb6-0cff4d3d4a25',
  mips64el: '700bda43-7a34-4507-b179-eeb93d7a7ca3',
  tilegx: 'c50cdd70-3862-4cc3-90e1-809a8c93ee2c',
};

/** Types that do not depend on the architecture. */
export const PARTITION_TYPES = {
  esp: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  swap: '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f',
  home: '933ac7e1-2eb4-4f13-b844-0e14e2aef915',
  srv: '3b8f8425-20e0-4f3b-907f-1a25a76f98e8',
  // DPS calls it "tmp"; it is mounted at /var/tmp.
  tmp: '7ec6f557-3bc5-4aca-b293-16ef5df639d1',
  var: '4d21b016-b534-45c2-a9fb-5c16e091fd2d',
  // The Extended Boot Loader Partition (XBOOTLDR), which systemd-boot reads beside the ESP.
  xbootldr: 'bc13c2ff-59e6-4262-a352-b275fd6f7172',
  // Where grub's BIOS boot stage lives ("Hah!IdontNeedEFI"); mkosi 14 leaves it empty.
  bios: '21686148-6449-6e6f-744e-656564454649',
} as const;

/** The /usr, root verity and verity signature types of one CPU family (UAPI Discoverable Partitions). */
interface VerityFamily {
  readonly usr: string;
  readonly rootVerity: string;
  readonly rootSignature: string;
  readonly usrVerity: string;
  readonly usrSignature: string;
}

const FAMILIES: Readonly<Record<string, VerityFamily>> = {
  x86_64: {
    usr: '8484680c-9521-48c6-9c11-b0720656f69e',
    rootVerity: '2c7357ed-ebd2-46d9-aec1-23d437ec2bf5',
    rootSignature: '41092b05-9fc8-4523-994f-2def0408b176',
    usrVerity: '77ff5f63-e7b6-4633-acf4-1565b864c0e6',
    usrSignature: 'e7bb33fb-06cf-4e81-8273-e543b413e2e2',
  },
  x86: {
    usr: '75250d76-8cc6-458e-bd66-bd47cc81a812',
    rootVerity: 'd13c5d3b-b5d1-422a-b29f-9454fdc89d76',
    rootSignature: '5996fc05-109c-48de-808b-23fa0830b676',
    usrVerity: '8f461b0d-14ee-4e81-9aa9-049b6fb97abd',
    usrSignature: '974a71c0-de41-43c3-be5d-5c5ccd1ad2c0',
  },
  arm64: {
    usr: 'b0e01050-ee5f-4390-949a-9101b17104e9',
    rootVerity: 'df3300ce-d69f-4c92-978c-9bfb0f38d820',
    rootSignature: '6db69de6-29f4-4758-a7a5-962190f00ce3',
    usrVerity: '6e11a4e7-fbca-4ded-b9e9-e1a512bb664e',
    usrSignature: 'c23ce4ff-44bd-4b00-b2d4-b41b3419e02a',
  },
  arm: {
    usr: '7d0359a3-02b3-4f0a-865c-654403e70625',
    rootVerity: '7386cdf2-203c-47a9-a498-f2ecce45a2d6',
    rootSignature: '42b0455f-eb11-491d-98d3-56145ba9d037',
    usrVerity: 'c215d751-7bcd-4649-be90-6627490a4c05',
    usrSignature: 'd7ff812f-37d1-4902-a810-d76ba57b975a',
  },
  riscv64: {
    usr: 'beaec34b-8442-439b-a40b-984381ed097d',
    rootVerity: 'b6ed5582-440b-4209-b8da-5ff7c419ea3d',
    rootSignature: 'efe0f087-ea8d-4469-821a-4c2a96a8386a',
    usrVerity: '8f1056be-9b05-47c4-81d6-be53128e5b54',
    usrSignature: 'd2f9000a-7a18-453f-b5cd-4d32f77a7b32',
  },
  ppc64le: {
    usr: '15bb03af-77e7-4d4a-b12b-c0d084f7491c',
    rootVerity: '906bd944-4589-4aae-a4e4-dd983917446a',
    rootSignature: 'd4a236e7-e873-4c07-bf1d-bf6cf7f1c3c6',
    usrVerity: 'ee2b9983-21e8-4153-86d9-b6901a54d1ce',
    usrSignature: 'c8bfbd1e-268e-4521-8bba-bf314c399557',
  },
  s390x: {
    usr: '8a4f5770-50aa-4ed3-874a-99b710db6fea',
    rootVerity: 'b325bfbe-c7be-4ab8-8357-139e652d2f6b',
    rootSignature: 'c80187a5-73a3-491a-901a-017c3fa953e9',
    usrVerity: '31741cc4-1a2a-4111-a581-e00b447d2d06',
    usrSignature: '3f324816-667b-46ae-86ee-9b0c0c6c11b4',
  },
  loongarch64: {
    usr: 'e611c702-575c-4cbe-9a46-434fa0bf7e3f',
    rootVerity: 'f3393b22-e9af-4613-a948-9d3bfbd0c535',
    rootSignature: '5afb67eb-ecc8-4f85-ae8e-ac1e7c50e7d0',
    usrVerity: 'f46b2c26-59ae-48f0-9106-c50ed47f673d',
    usrSignature: 'b024f315-d330-444c-8461-44bbde524e99',
  },
};

/** `uname -m` spellings of each family. */
const FAMILY_OF: Readonly<Record<string, string>> = {
  x86_64: 'x86_64',
  i386: 'x86',
  i486: 'x86',
  i586: 'x86',
  i686: 'x86',
  aarch64: 'arm64',
  arm64: 'arm64',
  armv5tel: 'arm',
  armv6l: 'arm',
  armv7l: 'arm',
  armv7hl: 'arm',
  armv8l: 'arm',
  riscv64: 'riscv64',
  ppc64le: 'ppc64le',
  s390x: 's390x',
  loongarch64: 'loongarch64',
};

/**
 * The types of the data (root or /usr), verity and signature partitions for an architecture, or
 * undefined where kiln does not know them (UsrOnly= and Verity= then refuse the architecture).
 */
export function verityPartitionTypes(architecture: string, usr: boolean): { data: string; verity: string; signature: string } | undefined {
  const family = Object.hasOwn(FAMILY_OF, architecture) ? FAMILIES[FAMILY_OF[architecture]!] : undefined;
  if (family === undefined) return undefined;
  return usr
    ? { data: family.usr, verity: family.usrVerity, signature: family.usrSignature }
    : { data: rootPartitionType(architecture)!, verity: family.rootVerity, signature: family.rootSignature };
}

/** The root partition type for an architecture, or undefined when the specification has none. */
export function rootPartitionType(architecture: string): string | undefined {
  return Object.hasOwn(ROOT_TYPES, architecture) ? ROOT_TYPES[architecture] : undefined;
}

export function knownArchitectures(): string[] {
  return Object.keys(ROOT_TYPES);
}
