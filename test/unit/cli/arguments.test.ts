import { describe, expect, it } from 'vitest';
import { parseArguments, type VerbShape } from '../../../src/cli/arguments.js';
import { KilnError } from '../../../src/errors.js';

const VERBS: Record<string, VerbShape> = {
  build: { takesCommandLine: 'after-word' },
  summary: {},
  clean: {},
  shell: { takesCommandLine: true },
  boot: { takesCommandLine: true },
  verify: { takesArguments: true },
};

const parse = (...argv: string[]) => parseArguments(argv, VERBS);
/** The assignments as [setting, raw, invert] triples. */
const settings = (...argv: string[]) => parse(...argv).assignments.map((a) => [a.name, a.raw, a.invert]);

describe('parseArguments', () => {
  it('defaults to the build verb', () => {
    expect(parse().verb).toBe('build');
    expect(parse('-f').verb).toBe('build');
  });

  it('takes options before and after the verb alike', () => {
    expect(settings('-d', 'fedora', 'summary', '--release=38')).toEqual([
      ['Distribution', 'fedora', false],
      ['Release', '38', false],
    ]);
    expect(parse('summary', '-C', 'dir', '--json')).toMatchObject({ verb: 'summary', directory: 'dir', json: true });
  });

  it('counts -f, -ff and --force', () => {
    expect(settings('-ff', 'build', '--force')).toEqual([
      ['Force', undefined, false],
      ['Force', undefined, false],
      ['Force', undefined, false],
    ]);
  });

  it('bundles short flags and attaches values (-fi, -dfedora, -r38)', () => {
    expect(settings('-fi', '-dfedora', '-r38')).toEqual([
      ['Force', undefined, false],
      ['Incremental', undefined, false],
      ['Distribution', 'fedora', false],
      ['Release', '38', false],
    ]);
  });

  it('takes a boolean word after a boolean option, but not a verb', () => {
    expect(settings('--checksum', 'yes', 'summary')).toEqual([['Checksum', 'yes', false]]);
    expect(parse('--checksum', 'summary')).toMatchObject({ verb: 'summary' });
    expect(settings('--checksum', 'summary')).toEqual([['Checksum', undefined, false]]);
    expect(settings('--with-network', 'never')).toEqual([['WithNetwork', 'never', false]]);
    expect(settings('-b', 'no')).toEqual([['Bootable', 'no', false]]);
  });

  it('inverts -T and --without-* options', () => {
    expect(settings('-T', '--without-unified-kernel-images=no')).toEqual([
      ['WithTests', undefined, true],
      ['WithUnifiedKernelImages', 'no', true],
    ]);
  });

  it('reads values given as the next argument or after =', () => {
    expect(settings('-p', 'vim,less', '--package=htop', '--kernel-command-line', 'quiet rw')).toEqual([
      ['Packages', 'vim,less', false],
      ['Packages', 'htop', false],
      ['KernelCommandLine', 'quiet rw', false],
    ]);
    expect(settings('--environment=A=1')).toEqual([['Environment', 'A=1', false]]);
  });

  it('maps mkosi 14\'s --xz to CompressOutput=xz', () => {
    expect(settings('--xz')).toEqual([['CompressOutput', 'xz', false]]);
  });

  it('collects @FILE arguments with their position among the assignments', () => {
    const args = parse('--package=a', '@extra.conf', 'summary', '-p', 'b', '@late.conf');
    expect(args.configFiles).toEqual(['extra.conf', 'late.conf']);
    expect(args.configFilesAt).toEqual([1, 2]);
  });

  it('reads the command-line-only options', () => {
    expect(parse('--default', 'my.conf', '--debug=run,workspace', '--debug', 'x', '-B', '--preset', 'debian-minimal')).toMatchObject({
      defaultPath: 'my.conf',
      debug: ['run', 'workspace', 'x'],
      autoBump: true,
      preset: 'debian-minimal',
    });
    expect(parse('--config=other.conf').defaultPath).toBe('other.conf');
    expect(parse('--version')).toMatchObject({ version: true });
    expect(parse('-h')).toMatchObject({ help: true });
  });

  it('gives shell and boot everything after the first foreign argument', () => {
    expect(parse('shell', 'ls', '-l', '--checksum')).toMatchObject({ verb: 'shell', commandLine: ['ls', '-l', '--checksum'] });
    expect(parse('-i', 'shell', '-f', 'cat', '/etc/os-release')).toMatchObject({
      verb: 'shell',
      commandLine: ['cat', '/etc/os-release'],
      assignments: [expect.objectContaining({ name: 'Incremental' }), expect.objectContaining({ name: 'Force' })],
    });
    expect(parse('boot', '--', '--private-network')).toMatchObject({ verb: 'boot', commandLine: ['--private-network'] });
    expect(parse('boot', '--private-network')).toMatchObject({ verb: 'boot', commandLine: ['--private-network'] });
    expect(parse('--', 'shell', 'id')).toMatchObject({ verb: 'shell', commandLine: ['id'] });
  });

  it('passes the words after build on (to the build script), but not an unknown option', () => {
    expect(parse('build', 'target', '--verbose')).toMatchObject({ verb: 'build', commandLine: ['target', '--verbose'] });
    expect(parse('build', '--', '--verbose')).toMatchObject({ verb: 'build', commandLine: ['--verbose'] });
    expect(parse('build', '-f', 'target')).toMatchObject({ verb: 'build', commandLine: ['target'], assignments: [expect.objectContaining({ name: 'Force' })] });
    expect(() => parse('build', '--forse')).toThrow('command line: unknown option --forse');
  });

  it('gives verbs with arguments their positionals', () => {
    expect(parse('verify', 'out', '-f')).toMatchObject({ verb: 'verify', commandLine: ['out'] });
  });

  it('refuses unknown options, verbs and stray arguments with one clear message', () => {
    expect(() => parse('--chekcsum')).toThrow('command line: unknown option --chekcsum');
    expect(() => parse('-fZ')).toThrow('command line: unknown option -Z in -fZ');
    expect(() => parse('biuld')).toThrow('unknown verb "biuld"');
    expect(() => parse('summary', 'extra')).toThrow('unexpected argument "extra" after the verb summary');
    expect(() => parse('--json=yes')).toThrow('command line: --json takes no value');
    expect(() => parse('-C')).toThrow('command line: -C needs a value');
    expect(() => parse('summary', '-r')).toThrow('command line: -r needs a value');
    expect(() => parse('biuld')).toThrow(KilnError);
  });

  it('suggests the closest verb', () => {
    try {
      parse('sumary');
      expect.unreachable();
    } catch (error) {
      expect((error as KilnError).hint).toMatch(/^did you mean summary\?/);
    }
  });
});
