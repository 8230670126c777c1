/**
 * The metadata of Format=lxc and Format=incus, from the configuration: what lxc-local reads from
 * image.meta.tar.xz (as distrobuilder and the lxc-ci definitions write it), and Incus' metadata.yaml
 * read back by a real YAML parser (PyYAML, Debian's python3-yaml: a YAML 1.1 reader like the one
 * distrobuilder writes with).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lxcMetadataName, outputNames, producedFiles } from '../../../src/artifacts/names.js';
import { incusMetadataYaml, INCUS_NAME } from '../../../src/outputs/incus.js';
import { describeImage, hostsWithPlaceholder, imageDates } from '../../../src/outputs/lxc-guest.js';
import { LXC_NAME, lxcMetadataFiles } from '../../../src/outputs/lxc.js';
import { unavailable } from '../../skip.js';
import { configOf } from '../package-managers/config-of.js';

const DEBIAN = '[Distribution]\nDistribution=debian\nRelease=bookworm\nArchitecture=x86_64\n[Output]\nFormat=lxc\n';
/** 2026-11-22 10:30:00 UTC */
const NOW = Date.UTC(2026, 10, 22, 10, 30, 0);
const dates = imageDates(NOW);

describe('the dates of an LXC or Incus image', () => {
  it('are the build time and 30 days later (distrobuilder\'s default expiry), in Unix seconds', () => {
    expect(dates).toEqual({ created: NOW / 1000, expires: NOW / 1000 + 30 * 86400 });
  });
});

describe('describeImage', () => {
  it('uses distrobuilder\'s defaults: the serial is the build time, the name and description say what it is', () => {
    expect(describeImage(configOf(DEBIAN), dates)).toEqual({
      os: 'debian',
      release: 'bookworm',
      architecture: 'amd64',
      variant: 'default',
      serial: '20261122_1030',
      name: 'debian-bookworm-amd64-default-20261122_1030',
      description: 'Debian bookworm amd64 (default) (20261122_1030)',
    });
  });

  it('takes the name from ImageId= and the serial from ImageVersion=', () => {
    const image = describeImage(configOf(`${DEBIAN}ImageId=web\nImageVersion=1.2\n`), dates);
    expect([image.name, image.serial]).toEqual(['web_1.2', '1.2']);
    expect(describeImage(configOf('[Distribution]\nDistribution=fedora\nRelease=38\nArchitecture=x86_64\n[Output]\nFormat=incus\n'), dates).architecture).toBe('x86_64');
  });
});

describe('lxcMetadataFiles', () => {
  const files = lxcMetadataFiles(configOf(DEBIAN), dates, describeImage(configOf(DEBIAN), dates), ['dev/console', 'dev/null']);

  it('includes LXC\'s common.conf with the personality of the architecture, and userns.conf for unprivileged containers', () => {
    expect(files.config).toBe('lxc.include = LXC_TEMPLATE_CONFIG/common.conf\nlxc.arch = linux64\n');
    expect(files['config-user']).toBe('lxc.include = LXC_TEMPLATE_CONFIG/common.conf\nlxc.include = LXC_TEMPLATE_CONFIG/userns.conf\nlxc.arch = linux64\n');
  });

  it('gives LXC before compat level 5 the distribution\'s own common.conf, as lxc-ci does', () => {
    for (const level of [1, 2, 3, 4]) {
      expect(files[`config.${level}`]).toBe('lxc.include = LXC_TEMPLATE_CONFIG/debian.common.conf\nlxc.arch = linux64\n');
      expect(files[`config-user.${level}`]).toBe(
        'lxc.include = LXC_TEMPLATE_CONFIG/debian.common.conf\nlxc.include = LXC_TEMPLATE_CONFIG/debian.userns.conf\nlxc.arch = linux64\n',
      );
    }
    const arch = lxcMetadataFiles(configOf('[Distribution]\nDistribution=arch\nArchitecture=x86_64\n[Output]\nFormat=lxc\n'), dates, describeImage(configOf(DEBIAN), dates), []);
    expect(arch['config.4']).toContain('LXC_TEMPLATE_CONFIG/archlinux.common.conf\n');
  });

  it('names the templated files, the expiry, the device nodes to skip and a message', () => {
    expect(files.templates).toBe('/etc/hostname\n/etc/hosts\n');
    expect(files.expiry).toBe(`${dates.expires}\n`);
    expect(files['excludes-user']).toBe('./dev/console\n./dev/null\n');
    expect(files['create-message']).toMatch(/^You just created a Debian bookworm amd64 \(default\) \(20261122_1030\) container/);
  });

  // Debian's lxc-templates ships the distributions' common.conf files (lxc itself only common.conf).
  const dir = '/usr/share/lxc/config';
  const templates = spawnSync('dpkg-query', ['-W', '-f', '${Status}', 'lxc-templates'], { encoding: 'utf8' }).stdout === 'install ok installed';
  it.skipIf(unavailable(existsSync(dir) && templates ? undefined : "needs Debian's lxc and lxc-templates packages"))('points only at files that Debian\'s lxc and lxc-templates packages ship', () => {
    const included = Object.values(files).flatMap((text) => [...text.matchAll(/LXC_TEMPLATE_CONFIG\/(\S+)/g)].map((match) => match[1]!));
    for (const name of new Set(included)) expect(existsSync(`${dir}/${name}`), name).toBe(true);
  });
});

describe('hostsWithPlaceholder', () => {
  it('writes a Debian hosts file where the image has none', () => {
    expect(hostsWithPlaceholder(undefined, null, LXC_NAME)).toBe(
      '127.0.0.1\tlocalhost\n127.0.1.1\tLXC_NAME\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n',
    );
  });

  it('replaces the name the image was built with, field by field', () => {
    const text = '# web is here\n127.0.0.1 localhost\n127.0.1.1 web web.example.org\n10.0.0.1 webserver\n';
    expect(hostsWithPlaceholder(text, 'web', INCUS_NAME)).toBe(
      '# web is here\n127.0.0.1 localhost\n127.0.1.1 {{ container.name }} web.example.org\n10.0.0.1 webserver\n',
    );
  });

  it('puts 127.0.1.1 with the placeholder first when no line names the machine', () => {
    expect(hostsWithPlaceholder('127.0.0.1 localhost\n', null, LXC_NAME)).toBe('127.0.1.1\tLXC_NAME\n127.0.0.1 localhost\n');
    expect(hostsWithPlaceholder('127.0.0.1 localhost\n', 'other', LXC_NAME)).toBe('127.0.1.1\tLXC_NAME\n127.0.0.1 localhost\n');
  });
});

describe('the output names of Format=lxc and Format=incus', () => {
  it('pair image.rootfs.tar.xz with image.meta.tar.xz, whatever Output= is', () => {
    const names = outputNames(configOf(DEBIAN));
    expect([names.image, names.lxcMetadata]).toEqual(['image.rootfs.tar.xz', 'image.meta.tar.xz']);
    expect(outputNames(configOf(`${DEBIAN}ImageId=web\nImageVersion=2\n`)).lxcMetadata).toBe('web_2.meta.tar.xz');
    expect(lxcMetadataName('box.tar.xz')).toBe('box.meta.tar.xz');
    expect(lxcMetadataName('box')).toBe('box.meta.tar.xz');
    expect(producedFiles(configOf(`${DEBIAN}[Validation]\nSign=yes\n`)).map((file) => file.split('/').pop())).toEqual(
      expect.arrayContaining(['image.rootfs.tar.xz', 'image.meta.tar.xz', 'SHA256SUMS', 'SHA256SUMS.gpg']),
    );
  });

  it('name the unified Incus image image.incus.tar.xz, compressed as CompressOutput= says', () => {
    expect(outputNames(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=incus\n')).image).toBe('image.incus.tar.xz');
    expect(outputNames(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=incus\nCompressOutput=zstd\n')).image).toBe('image.incus.tar.zstd');
    expect(outputNames(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=incus\n')).lxcMetadata).toBeUndefined();
  });
});

const PYTHON = '/usr/bin/python3';
const noYaml = unavailable(spawnSync(PYTHON, ['-c', 'import yaml']).status === 0 ? undefined : `needs ${PYTHON} with python3-yaml`);

describe.skipIf(noYaml)('incusMetadataYaml, read by PyYAML', () => {
  it('has the fields Incus requires and the ones distrobuilder adds, every value of the type Incus expects', () => {
    const config = configOf('[Distribution]\nDistribution=debian\nRelease=bookworm\nArchitecture=x86_64\n[Output]\nFormat=incus\nImageId=yes\nImageVersion=12\n');
    const text = incusMetadataYaml(config, dates, describeImage(config, dates));
    const parsed = spawnSync(PYTHON, ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], { input: text, encoding: 'utf8' });
    expect(parsed.status, parsed.stderr).toBe(0);
    expect(JSON.parse(parsed.stdout)).toEqual({
      architecture: 'x86_64',
      creation_date: dates.created,
      expiry_date: dates.expires,
      // "yes" and "12" stay strings: a bare yes is a boolean and 12 an integer to a YAML 1.1 reader.
      properties: { architecture: 'amd64', description: 'Debian bookworm amd64 (default) (12)', name: 'yes_12', os: 'debian', release: 'bookworm', serial: '12', variant: 'default' },
      templates: {
        '/etc/hostname': { when: ['create', 'copy'], template: 'hostname.tpl' },
        '/etc/hosts': { when: ['create', 'copy'], template: 'hosts.tpl' },
      },
    });
  });
});
