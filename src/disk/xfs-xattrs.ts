/**
 * Extended attributes (file capabilities, ACLs, SELinux labels, user.*) for the XFS that mkfs.xfs
 * made from a prototype, which has no syntax for them. xfs_db can add an attribute of a given length
 * (filled with 'v') and then overwrite its value in place, as long as the inode keeps its attributes
 * in "short form" inside the inode; the sizes are kept small enough for that, and bigger sets are
 * reported as lost rather than risked.
 */

/** POSIX ACLs are stored by XFS under its own names, in the trusted ("root") namespace. */
const ACL_NAMES: Readonly<Record<string, string>> = {
  'system.posix_acl_access': 'SGI_ACL_FILE',
  'system.posix_acl_default': 'SGI_ACL_DEFAULT',
};

/** xfs_db attr_set flags per Linux namespace prefix. */
const NAMESPACES: readonly (readonly [string, string])[] = [
  ['user.', '-u'],
  ['trusted.', '-r'],
  ['security.', '-s'],
];

const ACL_USER = 0x02;
const ACL_GROUP = 0x08;
const ACL_UNDEFINED_ID = 0xffffffff;

/**
 * The kernel's xattr form of an ACL (little-endian version 2 header, then tag/perm/id entries of 8
 * bytes) in XFS's on-disk form (big-endian count, then tag/id/perm/pad entries of 12 bytes).
 */
export function xfsAcl(linux: Buffer): Buffer | undefined {
  if (linux.length < 4 || (linux.length - 4) % 8 !== 0 || linux.readUInt32LE(0) !== 2) return undefined;
  const count = (linux.length - 4) / 8;
  const out = Buffer.alloc(4 + count * 12);
  out.writeUInt32BE(count, 0);
  for (let i = 0; i < count; i++) {
    const tag = linux.readUInt16LE(4 + i * 8);
    const perm = linux.readUInt16LE(6 + i * 8);
    const id = linux.readUInt32LE(8 + i * 8);
    out.writeUInt32BE(tag, 4 + i * 12);
    out.writeUInt32BE(tag === ACL_USER || tag === ACL_GROUP ? id : ACL_UNDEFINED_ID, 8 + i * 12);
    out.writeUInt16BE(perm, 12 + i * 12);
  }
  return out;
}

interface XfsAttribute {
  readonly flag: string;
  readonly name: string;
  readonly value: Buffer;
}

function toXfs(name: string, value: Buffer): XfsAttribute | undefined {
  const acl = ACL_NAMES[name];
  if (acl !== undefined) {
    const converted = xfsAcl(value);
    return converted && { flag: '-r', name: acl, value: converted };
  }
  for (const [prefix, flag] of NAMESPACES) {
    if (name.startsWith(prefix)) return { flag, name: name.slice(prefix.length), value };
  }
  return undefined;
}

/**
 * xfs_db commands that give the current inode (after `path`) these attributes, or undefined when
 * they cannot all be written this way: more than `budget` bytes in short form, an empty value, a
 * name xfs_db cannot parse, an unknown namespace.
 */
export function xfsAttributeCommands(attributes: ReadonlyMap<string, Buffer>, budget: number): string[] | undefined {
  const converted: XfsAttribute[] = [];
  for (const [name, value] of attributes) {
    const attribute = toXfs(name, value);
    // xfs_db cannot make an empty value, and parses names as plain words.
    if (attribute === undefined || attribute.value.length === 0 || !/^[!$-&(-[\]-~]+$/.test(attribute.name)) return undefined;
    converted.push(attribute);
  }
  const bytes = 4 + converted.reduce((sum, a) => sum + 3 + Buffer.byteLength(a.name, 'latin1') + a.value.length, 0);
  if (bytes > budget || converted.some((a) => a.value.length > 255)) return undefined;
  // Short-form entries are appended in the order they are set, so the i-th set is list[i].
  return [
    ...converted.map((a) => `attr_set ${a.flag} -v ${a.value.length} ${a.name}`),
    ...converted.map((a, i) => `write a.sfattr.list[${i}].value #${a.value.toString('hex')}`),
  ];
}
