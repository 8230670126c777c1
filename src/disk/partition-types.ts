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
} as const;

/** The root partition type for an architecture, or undefined when the specification has none. */
export function rootPartitionType(architecture: string): string | undefined {
  return Object.hasOwn(ROOT_TYPES, architecture) ? ROOT_TYPES[architecture] : undefined;
}

export function knownArchitectures(): string[] {
  return Object.keys(ROOT_TYPES);
}
