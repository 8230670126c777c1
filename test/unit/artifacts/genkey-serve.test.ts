/** The pure parts of the genkey and serve verbs (the verbs themselves run for real in test/integration). */
import { describe, expect, it } from 'vitest';
import { duplicateProblem, parseSecretKeys } from '../../../src/verbs/genkey.js';
import { parseListen, renderListing, startLine } from '../../../src/verbs/serve.js';

/** `gpg --with-colons --list-secret-keys` of gpg 2.2 with two keys, the second with a subkey. */
const LISTING = [
  'sec:u:255:22:3F19F8BE1643BED9:1795613777:::u:::scSC:::+::ed25519:::0:',
  'fpr:::::::::ED07BA7863D4741B8674484F3F19F8BE1643BED9:',
  'grp:::::::::806399CA506B592D6AF01ED7FBD9BEB79EFB78C0:',
  'uid:u::::1795613777::F1BD32AE1EEE7F7BBE13339CA60AC3A4DB3780AE::kiln test <kiln-test@localhost>::::::::::0:',
  'sec:u:3072:1:1111222233334444:1795613780:::u:::scESC:::+:::23::0:',
  'fpr:::::::::AAAABBBBCCCCDDDDEEEEFFFF1111222233334444:',
  'uid:u::::1795613780::0000::Ops\\x3a images <ops@localhost>::::::::::0:',
  'ssb:u:3072:1:5555666677778888:1795613780::::::e:::+:::23:',
  'fpr:::::::::99990000111122223333444455556666777788888:',
].join('\n');

describe('parseSecretKeys', () => {
  it('reads each primary key with its fingerprint and user IDs, not the subkeys', () => {
    expect(parseSecretKeys(LISTING)).toEqual([
      { fingerprint: 'ED07BA7863D4741B8674484F3F19F8BE1643BED9', userIds: ['kiln test <kiln-test@localhost>'] },
      { fingerprint: 'AAAABBBBCCCCDDDDEEEEFFFF1111222233334444', userIds: ['Ops: images <ops@localhost>'] },
    ]);
    expect(parseSecretKeys('')).toEqual([]);
  });
});

describe('duplicateProblem', () => {
  const keys = parseSecretKeys(LISTING);

  it('refuses a second key with the same user ID', () => {
    const problem = duplicateProblem(keys, 'kiln test <kiln-test@localhost>', '/root/.gnupg');
    expect(problem?.message).toBe('a gpg key for "kiln test <kiln-test@localhost>" already exists in /root/.gnupg: ED07BA7863D4741B8674484F3F19F8BE1643BED9');
    expect(problem?.hint).toContain('Key=ED07BA7863D4741B8674484F3F19F8BE1643BED9');
  });

  it('allows a named new key, and any key in an empty keyring', () => {
    expect(duplicateProblem(keys, 'CI <ci@localhost>', '/root/.gnupg')).toBeUndefined();
    expect(duplicateProblem([], 'kiln image signing key', '/root/.gnupg')).toBeUndefined();
  });
});

describe('parseListen', () => {
  it("defaults to mkosi's port 8081 on every address", () => {
    expect(parseListen(undefined)).toEqual({ port: 8081 });
  });

  it('takes a port, or an address and a port', () => {
    expect(parseListen('0')).toEqual({ port: 0 });
    expect(parseListen('127.0.0.1:9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
  });

  it('says what it wanted otherwise', () => {
    expect(() => parseListen('localhost')).toThrow('kiln serve: "localhost" is not a port or ADDRESS:PORT');
    expect(() => parseListen('70000')).toThrow('is not a port');
  });
});

describe('startLine', () => {
  const names = ['image.tar.xz', 'SHA256SUMS'];

  it('names the files and the one address', () => {
    expect(startLine(names, 'out', { address: '127.0.0.1', family: 'IPv4', port: 8081 }, [])).toBe(
      'Serving image.tar.xz, SHA256SUMS from out on http://127.0.0.1:8081/ (Ctrl-C stops)',
    );
    expect(startLine(names, 'out', { address: '::1', family: 'IPv6', port: 8081 }, [])).toContain('on http://[::1]:8081/ ');
  });

  it('says so plainly when it listens on every address, and how not to', () => {
    const line = startLine(names, 'out', { address: '::', family: 'IPv6', port: 8081 }, ['http://192.0.2.2:8081/', 'http://[fd00::2]:8081/']);
    expect(line).toBe(
      'Serving image.tar.xz, SHA256SUMS from out on EVERY address of this machine, port 8081 (http://192.0.2.2:8081/, http://[fd00::2]:8081/); kiln serve 127.0.0.1:8081 serves this machine only (Ctrl-C stops)',
    );
    expect(startLine(names, 'out', { address: '0.0.0.0', family: 'IPv4', port: 9 }, [])).toContain('on EVERY address of this machine, port 9;');
  });
});

describe('renderListing', () => {
  const files = [{ name: 'image.tar.xz', size: 3 }, { name: 'a <b>&"c".raw', size: 0 }];

  it('is one name a line for scripts', () => {
    expect(renderListing(files, false)).toBe('image.tar.xz\na <b>&"c".raw\n');
  });

  it('is a page of links, names escaped, for browsers', () => {
    const page = renderListing(files, true);
    expect(page).toContain('<li><a href="image.tar.xz">image.tar.xz</a> (3 bytes)</li>');
    expect(page).toContain('<a href="a%20%3Cb%3E%26%22c%22.raw">a &#60;b&#62;&#38;&#34;c&#34;.raw</a>');
  });
});
