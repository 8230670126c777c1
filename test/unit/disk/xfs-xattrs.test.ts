import { describe, expect, it } from 'vitest';
import { shortFormAttributeBudget } from '../../../src/disk/xfs-protofile.js';
import { xfsAcl, xfsAttributeCommands } from '../../../src/disk/xfs-xattrs.js';

// setfacl -m u:1000:rx on a directory, as getfattr shows system.posix_acl_access.
const LINUX_ACL = Buffer.from('AgAAAAEABwD/////AgAFAOgDAAAEAAUA/////xAABQD/////IAAFAP////8=', 'base64');
// The same ACL as XFS stores it (SGI_ACL_FILE); a kernel mounting the image reads it back as LINUX_ACL.
const XFS_ACL = Buffer.from('AAAABQAAAAH/////AAcAAAAAAAIAAAPoAAUAAAAAAAT/////AAUAAAAAABD/////AAUAAAAAACD/////AAUAAA==', 'base64');

describe('xfsAcl', () => {
  it('turns the xattr form of an ACL into XFS on-disk form', () => {
    expect(xfsAcl(LINUX_ACL)?.equals(XFS_ACL)).toBe(true);
  });

  it('refuses what is not a version 2 ACL', () => {
    expect(xfsAcl(Buffer.from([1, 0, 0, 0]))).toBeUndefined();
    expect(xfsAcl(LINUX_ACL.subarray(0, 10))).toBeUndefined();
  });
});

describe('xfsAttributeCommands', () => {
  it('sets each attribute in its namespace with a placeholder, then writes the real value', () => {
    const capability = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const commands = xfsAttributeCommands(
      new Map([
        ['security.capability', capability],
        ['user.kiln', Buffer.from('kept')],
        ['system.posix_acl_access', LINUX_ACL],
        ['trusted.x', Buffer.from([0])],
      ]),
      shortFormAttributeBudget(16),
    );
    expect(commands).toEqual([
      'attr_set -s -v 20 capability',
      'attr_set -u -v 4 kiln',
      `attr_set -r -v ${XFS_ACL.length} SGI_ACL_FILE`,
      'attr_set -r -v 1 x',
      'write a.sfattr.list[0].value #0100000200200000000000000000000000000000',
      'write a.sfattr.list[1].value #6b657074',
      `write a.sfattr.list[2].value #${XFS_ACL.toString('hex')}`,
      'write a.sfattr.list[3].value #00',
    ]);
  });

  it('gives up on what xfs_db cannot write in place', () => {
    const budget = shortFormAttributeBudget(16);
    expect(xfsAttributeCommands(new Map([['user.empty', Buffer.alloc(0)]]), budget)).toBeUndefined();
    expect(xfsAttributeCommands(new Map([['user.with space', Buffer.from('x')]]), budget)).toBeUndefined();
    expect(xfsAttributeCommands(new Map([['other.ns', Buffer.from('x')]]), budget)).toBeUndefined();
    expect(xfsAttributeCommands(new Map([['user.big', Buffer.alloc(budget)]]), budget)).toBeUndefined();
    expect(xfsAttributeCommands(new Map([['user.fits', Buffer.alloc(budget - 20)]]), budget)).toHaveLength(2);
  });

  it('leaves less room beside a long symlink target or a full directory', () => {
    expect(shortFormAttributeBudget(0)).toBe(336 - 56 - 8);
    expect(shortFormAttributeBudget(200)).toBe(336 - 200 - 8);
    expect(shortFormAttributeBudget(201)).toBe(336 - 208 - 8);
  });
});
