/** The pure parts of SecureBoot=, SignExpectedPCR= and kiln genkey's Secure Boot keys (the tools run in test/integration). */
import { describe, expect, it } from 'vitest';
import { measureTools, signsExpectedPcr, tpmLibraries } from '../../../src/boot/pcr-signature.js';
import { secureBootTools, signsForSecureBoot } from '../../../src/boot/secure-boot.js';
import { configWith } from '../../../src/verbs/doctor.js';
import { expandCommonName, subjectOf, validDays } from '../../../src/verbs/genkey-secure-boot.js';

const config = (settings: Record<string, boolean>) =>
  configWith({
    Distribution: 'debian',
    Format: 'gpt_ext4',
    SignExpectedPCR: 'no',
    ...Object.fromEntries(Object.entries(settings).map(([name, value]) => [name, value ? 'yes' : 'no'])),
  });

describe('SecureBoot=', () => {
  it('signs bootable images only, as mkosi 14, with sbsign', () => {
    expect(signsForSecureBoot(config({ SecureBoot: true }))).toBe(false);
    expect(secureBootTools(config({ SecureBoot: true }))).toEqual([]);
    expect(secureBootTools(config({ SecureBoot: true, Bootable: true }))).toEqual(['sbsign']);
  });

  it('signs the expected PCR values only with SecureBoot=yes and unified kernel images', () => {
    expect(signsExpectedPcr(config({ SignExpectedPCR: true, Bootable: true }))).toBe(false);
    expect(signsExpectedPcr(config({ SignExpectedPCR: true, Bootable: true, SecureBoot: true, WithUnifiedKernelImages: false }))).toBe(false);
    const pcr = config({ SignExpectedPCR: true, Bootable: true, SecureBoot: true });
    expect(signsExpectedPcr(pcr)).toBe(true);
    expect(measureTools(pcr)[0]).toBe('systemd-measure');
    expect(secureBootTools(pcr)).toContain('systemd-measure');
  });

  it('names the TPM2 libraries systemd-measure loads, with the TCTI for a software TPM or the kernel\'s', () => {
    expect(tpmLibraries(true).map((l) => l.name)).toEqual(['libtss2-esys.so.0', 'libtss2-rc.so.0', 'libtss2-mu.so.0', 'libtss2-tcti-swtpm.so.0']);
    expect(tpmLibraries(false).at(-1)).toEqual({ name: 'libtss2-tcti-device.so.0', package: 'libtss2-tcti-device0' });
  });
});

describe('kiln genkey (Secure Boot)', () => {
  it('expands %u to the user sudo ran as, else $USER, as mkosi 14', () => {
    expect(expandCommonName('mkosi of %u', { SUDO_USER: 'alice', USER: 'root' })).toBe('mkosi of alice');
    expect(expandCommonName('mkosi of %u', { USER: 'bob' })).toBe('mkosi of bob');
    expect(expandCommonName('Fleet %u/%u', { USER: 'c' })).toBe('Fleet c/c');
  });

  it('escapes what openssl -subj would read as a separator', () => {
    expect(subjectOf('mkosi of alice')).toBe('/CN=mkosi of alice/');
    expect(subjectOf('a/b+c\\d')).toBe('/CN=a\\/b\\+c\\\\d/');
  });

  it('takes SecureBootValidDays= as a whole number of days and refuses anything else in one line', () => {
    expect(validDays('730')).toBe(730);
    expect(() => validDays('two years')).toThrow('SecureBootValidDays=two years is not a number of days');
    expect(() => validDays('0')).toThrow('is not a number of days');
  });
});
