import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../../src/config/host.js';
import { loadConfig } from '../../../src/config/load.js';
import { configToJson, formatBytes, formatSummary, HIDDEN } from '../../../src/config/summary.js';
import { ensureCompiled } from '../../compat/compiled.js';
import { REPO } from '../../compat/corpus.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: 'file:///srv/mirror/debian', kvm: false };
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function load(text: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-summary-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'mkosi.default'), text);
  const loaded = loadConfig({ directory: dir, commandLine: [], host: HOST, env: { PATH: '/nonexistent', XDG_CACHE_HOME: '/nonexistent/cache' }, cwd: dir });
  return { dir, loaded };
}

const CONFIG = `[Distribution]
Distribution=debian
Release=bookworm

[Output]
Format=tar
KernelCommandLine=quiet

[Content]
Packages=vim,less
Environment=A=1 B=two
Password=secret

[Partitions]
HomeSize=1536M

[Validation]
Sign=yes
`;

describe('formatBytes', () => {
  it.each([
    [512, '512B'],
    [1024, '1K'],
    [1536, '1.5K'],
    [1024 ** 2, '1M'],
    [3 * 1024 ** 3, '3G'],
    [1.25 * 1024 ** 3, '1.3G'],
  ])('%d → %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});

describe('configToJson', () => {
  it('uses key names, arrays, booleans, bytes, absolute paths, objects and null', () => {
    const { dir, loaded } = load(CONFIG);
    const json = configToJson(loaded.config);
    expect(json).toMatchObject({
      Distribution: 'debian',
      Format: 'tar',
      Packages: ['vim', 'less'],
      Environment: { A: '1', B: 'two' },
      HomeSize: 1536 * 1024 ** 2,
      SrvSize: null,
      Sign: true,
      Checksum: true,
      Output: path.join(dir, 'image.tar.xz'),
      Mirror: 'file:///srv/mirror/debian',
    });
  });

  it('never prints the password', () => {
    expect(configToJson(load(CONFIG).loaded.config).Password).toBe(HIDDEN);
    expect(configToJson(load('[Distribution]\nDistribution=debian\n').loaded.config).Password).toBeNull();
  });

  it('is plain JSON: it survives a round trip unchanged', () => {
    const json = configToJson(load(CONFIG).loaded.config);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});

describe('formatSummary', () => {
  const { loaded } = load(CONFIG);
  const text = formatSummary(loaded.config, { files: ['mkosi.default'], unsupported: ['x: Foo= is not supported by kiln yet'] }, (name) =>
    loaded.context.isSet(name),
  );
  const lines = text.split('\n');

  it('lists the files, then the sections in mkosi order', () => {
    expect(lines[0]).toBe('Configuration: mkosi.default');
    const headers = lines.filter((line) => line.startsWith('['));
    expect(headers).toEqual(['[Distribution]', '[Output]', '[Content]', '[Partitions]', '[Validation]', '[Host]']);
  });

  it('aligns the values in one column', () => {
    const settingLines = lines.slice(0, lines.findIndex((line) => line.startsWith('Not supported')));
    const starts = settingLines.map((line) => /^ {2}[A-Za-z0-9]+: +/.exec(line)?.[0].length).filter((n) => n !== undefined);
    expect(starts.length).toBeGreaterThan(40);
    expect(new Set(starts).size).toBe(1);
  });

  it('formats values for people', () => {
    expect(text).toMatch(/^ {2}Packages: +vim, less$/m);
    expect(text).toMatch(/^ {2}KernelCommandLine: +rhgb selinux=0 audit=0 quiet rw$/m);
    expect(text).toMatch(/^ {2}Environment: +A=1 B=two$/m);
    expect(text).toMatch(/^ {2}HomeSize: +1\.5G$/m);
    expect(text).toMatch(/^ {2}RootSize: +3G$/m);
    expect(text).toMatch(/^ {2}SrvSize: +-$/m);
    expect(text).toMatch(/^ {2}Sign: +yes$/m);
    expect(text).toMatch(/^ {2}Password: +\(hidden\)$/m);
    expect(text).not.toContain('secret');
  });

  it('shows unsupported settings only when they are set, and the refusals at the end', () => {
    expect(text).toMatch(/^ {2}SecureBoot: +no$/m);
    expect(text).toMatch(/^ {2}BaseImage: +-$/m);
    expect(text).toMatch(/^ {2}QemuSmp: +1$/m);
    expect(text.trimEnd().split('\n').slice(-4)).toEqual([
      'Not supported by kiln yet:',
      '  x: Foo= is not supported by kiln yet',
      '',
      'kiln build will refuse this configuration: one setting is not supported yet (listed above)',
    ]);
  });

  it('marks the formats kiln adds to mkosi 14\'s as kiln extensions', () => {
    const lxc = load('[Distribution]\nDistribution=debian\n[Output]\nFormat=lxc\n').loaded;
    expect(formatSummary(lxc.config, { files: [], unsupported: [] }, () => false)).toMatch(/^ {2}Format: +lxc \(kiln extension\)$/m);
    expect(text).toMatch(/^ {2}Format: +tar$/m);
  });

  it('says when no file was read', () => {
    const bare = formatSummary(loaded.config, { files: [], unsupported: [] }, () => false);
    expect(bare.split('\n')[0]).toBe('Configuration: (none: defaults only)');
  });
});

describe('kiln summary of a configuration build would refuse', () => {
  beforeAll(ensureCompiled, 120_000);

  function run(args: readonly string[]) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-summary-'));
    dirs.push(dir);
    // A value kiln refuses for good: squashfs is always compressed.
    writeFileSync(path.join(dir, 'mkosi.default'), CONFIG.replace('Format=tar\n', 'Format=gpt_squashfs\nCompress=no\n'));
    return spawnSync(path.join(REPO, 'bin/kiln'), args, { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  }

  it('exits 0 and ends with one line saying build will refuse it', () => {
    const result = run(['summary']);
    expect(result.status).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.at(-3)).toMatch(/^  mkosi\.default:\d+: Compress=no is not possible with squashfs formats$/);
    expect(lines.at(-1)).toBe('kiln build will refuse this configuration: one setting is not supported yet (listed above)');
  });

  it('says so on stderr with --json, keeping stdout plain JSON', () => {
    const result = run(['summary', '--json']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).Format).toBe('gpt_squashfs');
    expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(
      'kiln: warning: kiln build will refuse this configuration: one setting is not supported yet (listed above)',
    );
  });
});
