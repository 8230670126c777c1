import { describe, expect, it } from 'vitest';
import { ToolError } from '../../../src/errors.js';
import { explainAptFailure } from '../../../src/package-managers/apt.js';
import { buildSources, components, imageSources, sourceLine } from '../../../src/package-managers/apt-sources.js';
import type { Config } from '../../../src/config/types.js';

describe('explainAptFailure', () => {
  it('names the packages apt cannot find', () => {
    const error = new ToolError(['mmdebstrap'], 'mmdebstrap failed', {
      code: 25,
      stderrTail: "E: Unable to locate package no-such-pkg\nE: Package 'gone' has no installation candidate\nE: setup failed",
    });
    const explained = explainAptFailure(error) as ToolError;
    expect(explained.message).toBe('unknown packages: no-such-pkg, gone');
    expect(explained.hint).toContain('Packages=');
  });

  it('leaves other failures alone', () => {
    const error = new ToolError(['mmdebstrap'], 'mmdebstrap failed', { code: 1, stderrTail: 'E: Failed to fetch' });
    expect(explainAptFailure(error)).toBe(error);
  });
});

describe('apt sources', () => {
  const config = {
    Distribution: 'debian',
    Release: 'bookworm',
    Mirror: 'http://127.0.0.1/debian',
    LocalMirror: null,
    Repositories: [],
  } as unknown as Config;
  const host = [
    { uri: 'http://127.0.0.1/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main'] },
    { uri: 'http://127.0.0.2/debian-security/', suites: ['bookworm-security'], components: ['main'] },
  ];

  it('adds -updates and -security only where the host has them', () => {
    expect(imageSources(config, host).map(sourceLine)).toEqual([
      'deb http://127.0.0.1/debian bookworm main',
      'deb http://127.0.0.1/debian bookworm-updates main',
      'deb http://127.0.0.2/debian-security bookworm-security main',
    ]);
    expect(imageSources({ ...config, Release: 'trixie' }, host).map(sourceLine)).toEqual(['deb http://127.0.0.1/debian trixie main']);
  });

  it('builds from LocalMirror= as a trusted single source', () => {
    expect(buildSources({ ...config, LocalMirror: 'file:///srv/mirror' }, host).map(sourceLine)).toEqual([
      'deb [trusted=yes] file:///srv/mirror bookworm main',
    ]);
  });

  it('uses Repositories= as components, main universe by default on Ubuntu', () => {
    expect(components({ ...config, Repositories: ['main', 'contrib'] })).toEqual(['main', 'contrib']);
    expect(components({ ...config, Distribution: 'ubuntu' })).toEqual(['main', 'universe']);
  });
});
