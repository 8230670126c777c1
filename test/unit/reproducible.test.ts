import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArguments } from '../../src/cli/arguments.js';
import type { Host } from '../../src/config/host.js';
import { loadConfig } from '../../src/config/load.js';
import { ParseError } from '../../src/config/parsers.js';
import { deriveSeed, epochEnvironment, inheritedEpoch, parseEpoch, parseSeed, reproducibilityOf, type ImageIdentity } from '../../src/reproducible.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: null, kvm: false };
const ENV = { PATH: '/nonexistent', XDG_CACHE_HOME: '/nonexistent/cache' };
const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-reproducible-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let projects = 0;
function load(files: Record<string, string>, options: { env?: Record<string, string>; commandLine?: string[] } = {}) {
  const dir = path.join(root, String(projects++));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  const { assignments } = parseArguments([...(options.commandLine ?? []), 'summary'], { summary: {} });
  return loadConfig({ directory: dir, commandLine: assignments, host: HOST, env: { ...ENV, ...options.env }, cwd: dir }).config;
}

const DEBIAN = '[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\nImageId=web\n';

const IDENTITY: ImageIdentity = {
  Distribution: 'debian',
  Release: 'bookworm',
  Architecture: 'x86_64',
  Format: 'gpt_ext4',
  ImageId: 'web',
  ImageVersion: '1.0',
  Output: '/srv/out/web_1.0.raw',
};

describe('parseEpoch', () => {
  it('takes whole seconds, as git log --format=%ct prints them', () => {
    expect(parseEpoch('1700000000')).toBe(1700000000);
    expect(parseEpoch(' 0 ')).toBe(0);
  });

  it('refuses dates, fractions, negative numbers and times no file system can hold', () => {
    for (const raw of ['2023-11-14', '1.5', '-1', '', '0x10', '99999999999']) expect(() => parseEpoch(raw)).toThrow(ParseError);
  });
});

describe('parseSeed', () => {
  it('normalises a UUID and keeps "random"', () => {
    expect(parseSeed('{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}')).toBe('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0');
    expect(parseSeed('0f1e2d3c4b5a69788796a5b4c3d2e1f0')).toBe('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0');
    expect(parseSeed('random')).toBe('random');
  });

  it('refuses anything else', () => {
    expect(() => parseSeed('12345')).toThrow(ParseError);
  });
});

describe('deriveSeed', () => {
  it('is the same for the same image and epoch, whatever directory it is written to', () => {
    expect(deriveSeed(IDENTITY, 1700000000)).toBe(deriveSeed({ ...IDENTITY, Output: '/home/ci/checkout-2/web_1.0.raw' }, 1700000000));
    expect(deriveSeed(IDENTITY, 1700000000)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('differs for every part of the identity and for another epoch', () => {
    const changes: Partial<ImageIdentity>[] = [
      { Distribution: 'ubuntu' },
      { Release: 'trixie' },
      { Architecture: 'aarch64' },
      { Format: 'gpt_btrfs' },
      { ImageId: 'db' },
      { ImageId: null },
      { ImageVersion: '1.1' },
      { Output: '/srv/out/other.raw' },
    ];
    const seeds = new Set([deriveSeed(IDENTITY, 1700000000), deriveSeed(IDENTITY, 1700000001), ...changes.map((change) => deriveSeed({ ...IDENTITY, ...change }, 1700000000))]);
    expect(seeds.size).toBe(changes.length + 2);
  });
});

describe('SourceDateEpoch= and Seed= as the configuration resolves them', () => {
  it('without SOURCE_DATE_EPOCH a build is not reproducible: no epoch, random UUIDs', () => {
    const config = load({ 'mkosi.default': DEBIAN });
    expect(config.SourceDateEpoch).toBeNull();
    expect(config.Seed).toBe('random');
    expect(reproducibilityOf(config)).toEqual({ epoch: null, seed: null });
  });

  it('takes SOURCE_DATE_EPOCH from Environment= before the environment, and SourceDateEpoch= before both', () => {
    expect(load({ 'mkosi.default': DEBIAN }, { env: { SOURCE_DATE_EPOCH: '1600000000' } }).SourceDateEpoch).toBe(1600000000);
    const withEnvironment = `${DEBIAN}[Content]\nEnvironment=SOURCE_DATE_EPOCH=1650000000\n`;
    expect(load({ 'mkosi.default': withEnvironment }, { env: { SOURCE_DATE_EPOCH: '1600000000' } }).SourceDateEpoch).toBe(1650000000);
    const explicit = `${withEnvironment}SourceDateEpoch=1690000000\n`;
    expect(load({ 'mkosi.default': explicit }, { env: { SOURCE_DATE_EPOCH: '1600000000' } }).SourceDateEpoch).toBe(1690000000);
    expect(load({ 'mkosi.default': DEBIAN }, { commandLine: ['--source-date-epoch=1700000000'] }).SourceDateEpoch).toBe(1700000000);
  });

  it('derives the seed from the image identity when there is an epoch; Seed= and mkosi.seed win', () => {
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const derived = load({ 'mkosi.default': DEBIAN }, { env });
    expect(derived.Seed).toBe(deriveSeed(derived, 1700000000));
    expect(load({ 'mkosi.default': DEBIAN }, { env, commandLine: ['--image-id=other'] }).Seed).not.toBe(derived.Seed);
    expect(load({ 'mkosi.default': DEBIAN }, { env, commandLine: ['--output=other.tar.xz'] }).Seed).not.toBe(derived.Seed);
    const uuid = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    expect(load({ 'mkosi.default': DEBIAN, 'mkosi.seed': `${uuid.toUpperCase()}\n` }, { env }).Seed).toBe(uuid);
    expect(load({ 'mkosi.default': `${DEBIAN}Seed=random\n` }, { env }).Seed).toBe('random');
    expect(load({ 'mkosi.default': `${DEBIAN}Seed=${uuid}\n` }).Seed).toBe(uuid);
  });
});

describe('the environment of a reproducible build', () => {
  it('names the epoch for the tools, and nothing without one', () => {
    expect(epochEnvironment(1700000000)).toEqual({ SOURCE_DATE_EPOCH: '1700000000' });
    expect(epochEnvironment(null)).toEqual({});
  });

  it('inherits from Environment= first', () => {
    expect(inheritedEpoch({ SOURCE_DATE_EPOCH: '5' }, { SOURCE_DATE_EPOCH: '6' })).toEqual({ raw: '5', from: 'Environment=' });
    expect(inheritedEpoch({}, { SOURCE_DATE_EPOCH: '6' })).toEqual({ raw: '6', from: 'the environment' });
    expect(inheritedEpoch({}, { SOURCE_DATE_EPOCH: '' })).toBeUndefined();
  });
});
