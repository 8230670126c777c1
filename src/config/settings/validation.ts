/** [Validation] settings: checksums and signatures of the outputs. */
import { bool, string } from '../setting.js';

const section = 'Validation';

export const validationSettings = {
  Checksum: bool({
    section,
    flags: ['--checksum'],
    keys: ['CheckSum'],
    mkosi: 'checksum',
    default: false,
    finalize: (value, context) => value || context.get('Sign'),
    doc: 'Write SHA256SUMS beside the outputs (implied by Sign=)',
  }),
  Sign: bool({ section, flags: ['--sign'], mkosi: 'sign', default: false, doc: 'Sign SHA256SUMS with gpg into SHA256SUMS.gpg' }),
  Key: string<string | null>({ section, flags: ['--key'], mkosi: 'key', default: null, metavar: 'KEYID', doc: "gpg key to sign with: fingerprint, id or e-mail (default: gpg's default key)" }),
  BMap: bool({ section, flags: ['--bmap'], mkosi: 'bmap', default: false, doc: 'Write <stem>.bmap beside a GPT disk image, for bmaptool copy' }),
};
