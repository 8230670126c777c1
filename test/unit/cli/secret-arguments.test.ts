import { describe, expect, it } from 'vitest';
import { redactArguments, secretValues } from '../../../src/cli/secret-arguments.js';
import { parseArguments } from '../../../src/cli/arguments.js';
import { VERBS } from '../../../src/verbs/index.js';

describe('a --password on the command line', () => {
  it('is found among the assignments, in each spelling, and nothing else is', () => {
    expect(secretValues(parseArguments(['--password=hunter2', '--hostname', 'web', 'build'], VERBS).assignments)).toEqual(['hunter2']);
    expect(secretValues(parseArguments(['--password', 'hunter2', 'build'], VERBS).assignments)).toEqual(['hunter2']);
    expect(secretValues(parseArguments(['--password=', '--checksum', 'build'], VERBS).assignments)).toEqual([]);
  });

  it('is replaced wherever it appears in the arguments', () => {
    expect(redactArguments(['--password=hunter2', '-o', 'hunter2.tar', 'build'], ['hunter2'])).toEqual(['--password=*', '-o', '*.tar', 'build']);
    expect(redactArguments(['--password', 'hunter2', 'build'], ['hunter2'])).toEqual(['--password', '*', 'build']);
  });
});
