/** The pure parts of signing and checking signatures, fed with status output captured from gpg 2.2. */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { describeSigningFailure, gnupgHome, parseStatus, signArgv, signerOf } from '../../../src/artifacts/sign.js';
import { describeVerification } from '../../../src/artifacts/verify.js';

const FPR = 'ED07BA7863D4741B8674484F3F19F8BE1643BED9';
const HOME = '/root/.gnupg';

describe('signArgv', () => {
  it('makes a binary detached signature with the chosen key, never asking for anything', () => {
    const argv = signArgv('kiln@localhost', 'SHA256SUMS', 'SHA256SUMS.gpg');
    expect(argv).toEqual(expect.arrayContaining(['--batch', '--no-tty', '--no-armor', '--detach-sign']));
    expect(argv.slice(argv.indexOf('--pinentry-mode'), argv.indexOf('--pinentry-mode') + 2)).toEqual(['--pinentry-mode', 'error']);
    expect(argv.slice(argv.indexOf('--local-user'), argv.indexOf('--local-user') + 2)).toEqual(['--local-user', 'kiln@localhost']);
    expect(argv.slice(-3)).toEqual(['--output', 'SHA256SUMS.gpg', 'SHA256SUMS']);
  });

  it("leaves the key to gpg's default without Key=", () => {
    expect(signArgv(null, 'in', 'out')).not.toContain('--local-user');
  });
});

describe('gnupgHome', () => {
  it('honours GNUPGHOME, else uses the ~/.gnupg of the user kiln runs as, not $HOME', () => {
    expect(gnupgHome({ GNUPGHOME: '/tmp/keys' })).toBe('/tmp/keys');
    expect(gnupgHome({ HOME: '/home/someone-else' })).toBe(`${os.userInfo().homedir}/.gnupg`);
  });
});

describe('describeSigningFailure', () => {
  const statusOf = (text: string) => parseStatus(text);

  it('names a Key= that matches no secret key', () => {
    const error = describeSigningFailure(statusOf('[GNUPG:] INV_SGNR 9 nobody@x\n[GNUPG:] FAILURE sign 17\n'), '', 'nobody@x', HOME);
    expect(error.message).toBe('Sign=yes: no gpg secret key matches Key=nobody@x in /root/.gnupg');
    expect(error.hint).toContain('kiln genkey');
  });

  it('says when there is no default key at all', () => {
    const error = describeSigningFailure(statusOf('[GNUPG:] FAILURE sign 17\n'), 'gpg: no default secret key: No secret key', null, HOME);
    expect(error.message).toBe('Sign=yes: there is no gpg secret key in /root/.gnupg');
  });

  it('recognises a key that needs a passphrase', () => {
    const status = `[GNUPG:] KEY_CONSIDERED ${FPR} 2\n[GNUPG:] BEGIN_SIGNING H8\n[GNUPG:] FAILURE sign 67108949\n`;
    const error = describeSigningFailure(statusOf(status), 'gpg: signing failed: No pinentry', 'locked@localhost', HOME);
    expect(error.message).toBe(`Sign=yes: the gpg key ${FPR} is protected by a passphrase, and kiln signs without asking for one`);
  });

  it('names expired and revoked keys', () => {
    expect(describeSigningFailure(statusOf('[GNUPG:] INV_SGNR 5 old@x\n'), '', 'old@x', HOME).message).toBe('Sign=yes: the gpg key "old@x" has expired');
    expect(describeSigningFailure(statusOf('[GNUPG:] INV_SGNR 4 bad@x\n'), '', 'bad@x', HOME).message).toBe('Sign=yes: the gpg key "bad@x" was revoked');
  });

  it("quotes gpg's last word when nothing else fits", () => {
    const status = `[GNUPG:] KEY_CONSIDERED ${FPR} 2\n[GNUPG:] FAILURE sign 1\n`;
    expect(describeSigningFailure(statusOf(status), 'gpg: something\ngpg: signing failed: General error\n', null, HOME).message).toBe(
      `Sign=yes: gpg cannot sign with the gpg key ${FPR} (gpg: signing failed: General error)`,
    );
  });
});

describe('signerOf', () => {
  it('reads the fingerprint of the key that signed', () => {
    expect(signerOf(parseStatus(`[GNUPG:] KEY_CONSIDERED ${FPR} 2\n[GNUPG:] SIG_CREATED D 22 8 00 1795613777 ${FPR}\n`))).toBe(FPR);
  });
});

describe('describeVerification', () => {
  const good = `[GNUPG:] NEWSIG kiln-test@localhost\n[GNUPG:] GOODSIG 3F19F8BE1643BED9 kiln test <kiln-test@localhost>\n[GNUPG:] VALIDSIG ${FPR} 2026-11-25 1795613803 0 4 0 22 8 00 ${FPR}\n`;

  it('accepts a good signature and says whose it is', () => {
    expect(describeVerification(parseStatus(good), 0, 'pub.gpg')).toEqual({
      ok: true,
      message: `SHA256SUMS.gpg: good signature by ${FPR} (kiln test <kiln-test@localhost>)`,
    });
  });

  it('goes by the exit code, as systemd-pull does', () => {
    expect(describeVerification(parseStatus(good), 1, 'pub.gpg').ok).toBe(false);
  });

  it('explains a bad signature, an unknown key and a file that is no signature', () => {
    expect(describeVerification(parseStatus('[GNUPG:] BADSIG 3F19F8BE1643BED9 kiln test\n[GNUPG:] FAILURE gpg-exit 33554433\n'), 1, 'pub.gpg').message).toBe(
      'SHA256SUMS.gpg: BAD signature: SHA256SUMS was changed after it was signed',
    );
    const unknown = `[GNUPG:] ERRSIG 3F19F8BE1643BED9 22 8 00 1795613803 9 ${FPR}\n[GNUPG:] NO_PUBKEY 3F19F8BE1643BED9\n`;
    expect(describeVerification(parseStatus(unknown), 2, 'pub.gpg').message).toBe('SHA256SUMS.gpg: signed by key 3F19F8BE1643BED9, which is not in pub.gpg');
    expect(describeVerification(parseStatus('[GNUPG:] NODATA 1\n[GNUPG:] NODATA 2\n'), 2, 'pub.gpg').message).toBe('SHA256SUMS.gpg: not an OpenPGP signature');
  });
});
