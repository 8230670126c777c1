/** kiln serve's allow-list: which request names which file, and which files may be named at all. */
import { describe, expect, it } from 'vitest';
import { producedOutputs } from '../../../src/artifacts/names.js';
import { allowedNames, keyFileNames, requestedName } from '../../../src/artifacts/served.js';
import { configOf } from '../package-managers/config-of.js';

const SUM = 'a'.repeat(64);
const sums = (...names: string[]): string => names.map((name) => `${SUM} *${name}\n`).join('');

describe('requestedName', () => {
  it('maps a request target to one file name; "/" is the listing', () => {
    expect(requestedName('/image.tar.xz')).toBe('image.tar.xz');
    expect(requestedName('/image%20v1.tar.xz?x=1')).toBe('image v1.tar.xz');
    expect(requestedName('/image%2Etar%2exz')).toBe('image.tar.xz');
    expect(requestedName('/SHA256SUMS#part')).toBe('SHA256SUMS');
    expect(requestedName('http://host:8081/image.raw')).toBe('image.raw');
    expect(requestedName('/')).toBe('');
    expect(requestedName('/?C=M')).toBe('');
    expect(requestedName('http://host:8081')).toBe('');
  });

  it('refuses every path that is not exactly one name below "/", and bytes no name has', () => {
    const refused = [
      '', 'image.tar.xz', '*', '//image.tar.xz', '/./image.tar.xz', '/sub/image.raw', '/image.tar.xz/', '/../etc/passwd', '/a/../image.tar.xz',
      '/..%2fetc%2fpasswd', '/%2e%2e%2fimage', '/.%2fimage.tar.xz', '/a%5cb', '/a\\b', '/a%00b', '/image.tar.xz%00', '/a%0ab', '/a%7fb', '/%zz', '/%',
      '/%E0%A4%A', 'http://host//image.raw',
    ];
    for (const target of refused) expect(requestedName(target), target).toBeUndefined();
  });

  it('decodes once: a doubly encoded name stays encoded (and names nothing)', () => {
    expect(requestedName('/%252e%252e')).toBe('%2e%2e');
  });
});

describe('allowedNames', () => {
  const tar = producedOutputs(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n[Validation]\nChecksum=yes\nSign=yes\n'));
  const OUTPUTS = ['SHA256SUMS', 'SHA256SUMS.gpg', 'image.tar.xz', 'image.tar.xz.manifest'];

  it('without SHA256SUMS: what the configuration writes, never a listing of the directory', () => {
    expect(allowedNames(tar, undefined)).toEqual(OUTPUTS);
    const plain = producedOutputs(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=gpt_ext4\n[Validation]\nChecksum=no\n'));
    expect(allowedNames(plain, undefined)).toEqual(['image.raw', 'image.raw.manifest']);
  });

  it('with SHA256SUMS: also what the last build wrote, whatever its options — the signature, the images listed, their sidecars and manifests', () => {
    const plain = producedOutputs(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n'));
    const listed = sums('image.tar.gz', 'old_1.raw.xz', 'old_1.nspawn', 'old_1.roothash', 'old_1.verity', 'old_1.roothash.p7s', 'other.nspawn', 'notes.txt');
    expect(allowedNames(plain, listed)).toEqual([
      'SHA256SUMS', 'SHA256SUMS.gpg', 'image.tar.gz', 'image.tar.gz.manifest', 'image.tar.xz', 'image.tar.xz.manifest',
      'old_1.nspawn', 'old_1.raw.xz', 'old_1.raw.xz.manifest', 'old_1.roothash', 'old_1.roothash.p7s', 'old_1.verity',
    ]);
  });

  it('never takes from SHA256SUMS an input, a key, a hidden file or a path', () => {
    const listed = sums('mkosi.rootpw', 'mkosi.passphrase', 'mkosi.secure-boot.key', 'mkosi.tar', 'id_rsa', 'id_ed25519', 'db.key', '.kiln-build-x.tar', '../image.raw', 'sub/image.raw', 'signing.tar');
    expect(allowedNames(tar, listed, new Set(['signing.tar', 'signing.tar.manifest']))).toEqual(OUTPUTS);
  });

  it('never serves an output marked secret (mkosi 14 writes the ssh key id_rsa beside the image)', () => {
    const produced = [...tar, { name: 'id_rsa', secret: true }];
    expect(allowedNames(produced, sums('image.tar.xz', 'id_rsa'))).not.toContain('id_rsa');
  });
});

describe('keyFileNames', () => {
  it('names the key files the configuration points at in the output directory', () => {
    const config = { SecureBootKey: '/img/db.key', SecureBootCertificate: '/img/db.crt', SshKey: '/home/me/.ssh/id_ed25519' };
    expect([...keyFileNames(config, ['/img'])]).toEqual(['db.key', 'db.crt']);
    expect([...keyFileNames({ SecureBootKey: null, SecureBootCertificate: null, SshKey: null }, ['/img'])]).toEqual([]);
  });
});
