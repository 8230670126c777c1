/**
 * Issue 7: hostile trees and secrets. Symlinks in the skeleton, in the extra tree or in the image
 * itself (absolute, relative, with "..") never make kiln write outside the image root — the host
 * path stays untouched (mkosi 14 wrote an mkosi.extra file onto the host this way). Tar archives
 * with absolute or ".." members are refused. The root password never shows up in logs, the process
 * list, the manifest or the image (only its hash does).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED, KILN, kiln, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { minimalProject, writeScript, writeTree } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', 'python3']);

describe.skipIf(skip)('symlinks in trees and in the image', () => {
  let dir: string;
  let host: string;
  let result: { status: number | null; stderr: string };

  beforeAll(async () => {
    host = mkdtempSync(path.join(os.tmpdir(), 'kiln-host-target-'));
    writeFileSync(path.join(host, 'sentinel'), 'host file\n');
    dir = minimalProject({ output: 'Hostname=evil' });
    const skeleton = path.join(dir, 'mkosi.skeleton/etc');
    mkdirSync(skeleton, { recursive: true });
    symlinkSync(host, path.join(skeleton, 'abs-link'));
    symlinkSync(`${'../'.repeat(12)}${host.slice(1)}`, path.join(skeleton, 'rel-link'));
    symlinkSync(path.join(host, 'hostname'), path.join(skeleton, 'hostname'));
    symlinkSync(path.join(host, 'machine-id'), path.join(skeleton, 'machine-id'));
    symlinkSync(path.join(host, 'sentinel'), path.join(skeleton, 'locale.conf'));
    writeScript(dir, 'mkosi.prepare', `#!/bin/sh\nln -s ${host} /etc/prep-link\nln -s ../../../..${host} /var/prep-rel-link\n`);
    writeTree(path.join(dir, 'mkosi.extra'), {
      'etc/abs-link/pwned-abs': 'written through an absolute link\n',
      'etc/rel-link/pwned-rel': 'written through a relative link\n',
      'etc/prep-link/pwned-prep': 'written through a link the image made\n',
      'var/prep-rel-link/pwned-prep-rel': 'written through a relative link the image made\n',
    });
    result = await kiln(['--cache', TEST_CACHE, 'build'], { cwd: dir });
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(host, { recursive: true, force: true });
  });

  it('builds', () => {
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
  });

  it('leaves the host path untouched', () => {
    expect(readdirSync(host)).toEqual(['sentinel']);
    expect(readFileSync(path.join(host, 'sentinel'), 'utf8')).toBe('host file\n');
  });

  it('resolves every link inside the image instead', () => {
    const inside = path.join(dir, 'image', host);
    expect(readdirSync(inside).sort()).toEqual(['pwned-abs', 'pwned-prep', 'pwned-prep-rel', 'pwned-rel']);
    expect(readFileSync(path.join(dir, 'image/etc/hostname'), 'utf8')).toBe('evil\n');
    expect(readFileSync(path.join(dir, 'image/etc/machine-id'), 'utf8')).toBe('uninitialized\n');
    expect(readFileSync(path.join(dir, 'image/etc/locale.conf'), 'utf8')).toBe('LANG=C.UTF-8\n');
  });
});

describe.skipIf(skip)('tar archives as trees', () => {
  for (const [label, member] of [
    ['an absolute member', '/tmp/kiln-evil-absolute'],
    ['a member with ..', 'etc/../../../../tmp/kiln-evil-dotdot'],
  ] as const) {
    it(`refuses ${label}`, async () => {
      const dir = minimalProject();
      try {
        execFileSync('python3', ['-c', `
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as tar:
    info = tarfile.TarInfo(sys.argv[2]); data = b"evil\\n"; info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
`, path.join(dir, 'mkosi.skeleton.tar'), member]);
        const result = await kiln(['--cache', TEST_CACHE, 'build'], { cwd: dir });
        expect(result.stderr).toContain(`kiln: error: ${path.join(dir, 'mkosi.skeleton.tar')}: member "${member}" would land outside the image (absolute or ".." path)\n`);
        expect(result.status).toBe(1);
        expect(existsSync('/tmp/kiln-evil-absolute')).toBe(false);
        expect(existsSync('/tmp/kiln-evil-dotdot')).toBe(false);
        expect(workspacesIn(dir)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe.skipIf(skip)('the root password', () => {
  const password = 'kiln-secret-Tr0ub4dor&3';
  let dir: string;
  let stderr = '';
  let status: number | null = null;
  const seen: string[] = [];

  beforeAll(async () => {
    dir = minimalProject();
    writeFileSync(path.join(dir, 'mkosi.rootpw'), `${password}\n`);
    chmodSync(path.join(dir, 'mkosi.rootpw'), 0o644);
    // The build lingers in the post-installation script while the test reads every command line.
    writeScript(dir, 'mkosi.postinst', '#!/bin/sh\nsleep 3\n');
    const child = spawn(KILN, [...CACHED, '--debug=run', 'build'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const sampler = setInterval(() => {
      for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
          if (cmdline.includes(password) || environ.includes(password)) seen.push(cmdline);
        } catch {
          // gone
        }
      }
    }, 100);
    status = await new Promise((resolve) => child.on('close', resolve));
    clearInterval(sampler);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds, warning that mkosi.rootpw is readable by others', () => {
    expect(status).toBe(0);
    expect(stderr).toMatch(/kiln: warning: \S*mkosi\.rootpw can be read by other users; make it private with chmod 600/);
  });

  it('never appears in the log, the process list or the manifest', () => {
    expect(stderr).not.toContain(password);
    expect(seen).toEqual([]);
    expect(readFileSync(path.join(dir, 'image.manifest'), 'utf8')).not.toContain(password);
  });

  it('is in /etc/shadow only as a SHA-512 crypt hash that matches it', () => {
    const shadow = readFileSync(path.join(dir, 'image/etc/shadow'), 'utf8');
    expect(shadow).not.toContain(password);
    const hash = /^root:([^:]*):/m.exec(shadow)?.[1] ?? '';
    expect(hash).toMatch(/^\$6\$/);
    const check = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt, sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])', password, hash]);
    expect(check.toString().trim()).toBe('True');
  });
});
