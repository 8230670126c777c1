import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sha512Crypt } from '../../../src/util/sha512-crypt.js';

describe('sha512Crypt', () => {
  // Test vectors from Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512".
  it('matches the specification vectors', () => {
    expect(sha512Crypt('Hello world!', 'saltstring')).toBe(
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    );
    expect(sha512Crypt('Hello world!', 'saltstringsaltstring', 10000)).toBe(
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    );
    expect(sha512Crypt('we have a short salt string but not a short password', 'short', 77777)).toBe(
      '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
    );
  });

  it('agrees with openssl for a random salt', () => {
    const hash = sha512Crypt('correct horse battery staple');
    const salt = hash.split('$')[2]!;
    const expected = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: 'correct horse battery staple' });
    expect(hash).toBe(expected.toString().trim());
  });
});
