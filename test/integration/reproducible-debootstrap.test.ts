/**
 * Reproducible builds with Bootstrapper=debootstrap (issue 15): the two-checkout comparison of
 * reproducible.test.ts, once more with debootstrap, which leaves more behind than mmdebstrap —
 * dpkg, apt and bootstrap logs, ldconfig's aux-cache, apt's binary caches and lists — and runs apt-get
 * inside systemd-nspawn, where a package's maintainer script creates a user (dbus's messagebus, made
 * by adduser) whose /etc/shadow entry records the day of its last password change.
 *
 * At the lowest cost that still proves it: Format=tar without compression, no base packages but that
 * one small package, no incremental cache, the shared package cache, and both checkouts built at
 * the same time (each has its own cache, so neither waits for the other).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tarListing } from './helpers/compare.js';
import { whyNotRoot } from './helpers/kiln.js';
import { BUILD_RECORD, build, checkout, EPOCH, expectSameManifest, expectSameSums } from './helpers/reproducible.js';

const skip = whyNotRoot(['debootstrap', 'systemd-nspawn', 'getfattr', 'tar']);

const DEFINITION = `[Distribution]
Distribution=debian
Bootstrapper=debootstrap

[Output]
Format=tar
CompressOutput=no
ImageId=repro

[Content]
BasePackages=no
Packages=dbus-system-bus-common

[Validation]
Checksum=yes
`;

const IMAGE = 'repro.tar';

/** One member of an uncompressed tar archive, as text. */
function member(archive: string, name: string): string {
  return execFileSync('tar', ['--extract', '--to-stdout', '--file', archive, name], { encoding: 'utf8' });
}

describe.skipIf(skip)('reproducible builds with Bootstrapper=debootstrap', () => {
  let parent: string;
  let first: string;
  let second: string;

  beforeAll(async () => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repro-debootstrap-'));
    first = checkout(parent, 'first', DEFINITION, new Date());
    second = checkout(parent, 'second', DEFINITION, new Date(Date.now() - 86_400_000));
    await Promise.all([build(first), build(second)]);
  }, 1_800_000);
  afterAll(() => {
    if (parent) fs.rmSync(parent, { recursive: true, force: true });
  });

  it('gives the same tar archive and manifest twice, or prints the members that differ', async () => {
    await expectSameSums(first, second);
    expectSameManifest(first, second, IMAGE);
  });

  it('leaves out the logs and caches that record the build: dpkg, apt and bootstrap logs, aux-cache, apt caches and lists', async () => {
    const members = (await tarListing(path.join(first, IMAGE))).map((line) => line.split(' ')[0]!);
    // The places exist (the tools wrote there), so an empty result means removed, not never made.
    expect(members).toEqual(expect.arrayContaining(['./var/log/apt', './var/cache/ldconfig', './var/lib/apt/lists', './var/cache/apt']));
    expect(members.filter((name) => BUILD_RECORD.test(name))).toEqual([]);
  });

  it('dates the /etc/shadow entries of users made inside the container (by apt and by mkosi.postinst) at the epoch', () => {
    const archive = path.join(first, IMAGE);
    expect(member(archive, './etc/postinst-epoch')).toBe(`${EPOCH}\n`);
    const shadow = member(archive, './etc/shadow').trim().split('\n').map((line) => line.split(':'));
    const users = shadow.map((fields) => fields[0]);
    expect(users).toEqual(expect.arrayContaining(['root', 'messagebus', 'builder']));
    // The third field is the day of the last change; every one set is the epoch's day.
    const day = String(Math.floor(EPOCH / 86_400));
    expect(shadow.filter((fields) => fields[2] !== '' && fields[2] !== day).map((fields) => fields.slice(0, 3).join(':'))).toEqual([]);
    expect(shadow.find((fields) => fields[0] === 'messagebus')?.[2]).toBe(day);
  });
});
