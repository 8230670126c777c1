/**
 * The [Content] settings that shape the finished image, on one real build: RemovePackages=,
 * WithDocs=no, CleanPackageMetadata=yes, RemoveFiles=, Environment= for both kinds of scripts,
 * WithNetwork=; then `kiln shell` runs commands in the result. None of them is about the bootstrap:
 * the build starts from the shared minimal root (CACHED), which it extends with its packages.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED, kiln, TEST_CACHE, whyNotRoot } from './helpers/kiln.js';
import { minimalProject, writeScript } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn']);

describe.skipIf(skip)('content settings', () => {
  let dir: string;
  let log = '';

  beforeAll(async () => {
    dir = minimalProject({
      content: [
        'Packages=less,busybox',
        'RemovePackages=less',
        'CleanPackageMetadata=yes',
        'RemoveFiles=/etc/issue.net,/var/log/*.log',
        'Environment=KILN_GREETING=hello KILN_FROM_HOST',
        'WithNetwork=no',
      ].join('\n'),
    });
    writeScript(dir, 'mkosi.postinst', [
      '#!/bin/sh',
      'echo "$1 $KILN_GREETING $KILN_FROM_HOST" > /etc/postinst-env',
      // No network in the container unless WithNetwork=yes: only the loopback interface.
      'ls /sys/class/net > /etc/postinst-interfaces',
      // RemovePackages= runs after this script, so less is still here now.
      'command -v less > /etc/less-during-postinst',
      '',
    ].join('\n'));
    writeScript(dir, 'mkosi.finalize', '#!/bin/sh\necho "$1 $KILN_GREETING" > "$BUILDROOT/etc/finalize-env"\n');
    const result = await kiln([...CACHED, 'build'], { cwd: dir, env: { KILN_FROM_HOST: 'passed-through' } });
    log = result.stderr;
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const image = (...parts: string[]) => path.join(dir, 'image', ...parts);

  it('gives Environment= to mkosi.postinst (in the container) and mkosi.finalize (on the host)', () => {
    expect(readFileSync(image('etc/postinst-env'), 'utf8')).toBe('final hello passed-through\n');
    expect(readFileSync(image('etc/finalize-env'), 'utf8')).toBe('final hello\n');
  });

  it('runs mkosi.postinst without network unless WithNetwork=yes', () => {
    expect(readFileSync(image('etc/postinst-interfaces'), 'utf8')).toBe('lo\n');
  });

  it('removes RemovePackages= at the end, and the manifest does not list them', () => {
    expect(readFileSync(image('etc/less-during-postinst'), 'utf8')).toMatch(/less$/m);
    expect(existsSync(image('usr/bin/less'))).toBe(false);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'image.manifest'), 'utf8')) as { packages: { name: string }[] };
    const names = manifest.packages.map((p) => p.name);
    expect(names).toContain('busybox');
    expect(names).not.toContain('less');
  });

  it('keeps documentation out (WithDocs=no)', () => {
    expect(readdirSync(image('usr/share/doc'))).toEqual([]);
    expect(existsSync(image('usr/share/man/man1'))).toBe(false);
  });

  it('removes package metadata (CleanPackageMetadata=yes) and RemoveFiles=', () => {
    expect(existsSync(image('var/lib/dpkg'))).toBe(false);
    expect(existsSync(image('var/lib/apt'))).toBe(false);
    expect(existsSync(image('etc/issue.net'))).toBe(false);
    expect(existsSync(image('etc/issue'))).toBe(true);
    expect(readdirSync(image('var/log')).filter((name) => name.endsWith('.log'))).toEqual([]);
  });

  it('keeps the downloaded packages in the cache', () => {
    const packages = readdirSync(path.join(TEST_CACHE, 'debian~bookworm/packages'));
    expect(packages.some((name) => /^less_.*\.deb$/.test(name))).toBe(true);
    expect(packages.some((name) => /^busybox_.*\.deb$/.test(name))).toBe(true);
  });

  it('shows one progress line per stage with its time', () => {
    // The root's stage: extending the shared root, or using this file's root cached by an earlier run.
    // (A bootstrap's own line is checked by the incremental tests, whose first build is a miss.)
    expect(log).toMatch(/^‣ (Extending|Using) the cached root [0-9a-f]{16}[^\n]* \(\d+(\.\d)?s\)$/m);
    expect(log).toMatch(/^‣ Running the post-installation script \(\d+(\.\d)?s\)$/m);
  });

  it('kiln shell runs a command in the image and passes its exit code on', async () => {
    const shown = await kiln(['shell', 'cat', '/etc/finalize-env'], { cwd: dir });
    expect(shown.stdout).toBe('final hello\n');
    expect(shown.status).toBe(0);
    const failed = await kiln(['shell', 'sh', '-c', 'exit 7'], { cwd: dir });
    expect(failed.status).toBe(7);
  });
});
