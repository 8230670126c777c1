import { describe, expect, it } from 'vitest';
import { outputNames, producedFiles, stripSuffixes } from '../../../src/artifacts/names.js';
import { configOf } from '../package-managers/config-of.js';

describe('the .nspawn beside an image, named as systemd-pull and machinectl look for it', () => {
  it('drops the image suffixes from the output name', () => {
    expect(stripSuffixes('image.tar.xz')).toBe('image');
    expect(stripSuffixes('image.raw.xz')).toBe('image');
    expect(stripSuffixes('image.raw.zst')).toBe('image');
    expect(stripSuffixes('image.qcow2')).toBe('image');
    expect(stripSuffixes('web-1.2.raw')).toBe('web-1.2');
    expect(stripSuffixes('my.image.tar.gz')).toBe('my.image');
  });

  it('pairs image.tar.xz and image.raw.xz with image.nspawn', () => {
    const tar = outputNames(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n'));
    expect([tar.image, tar.nspawn, tar.checksum, tar.signature, tar.manifest]).toEqual(['image.tar.xz', 'image.nspawn', 'SHA256SUMS', 'SHA256SUMS.gpg', 'image.tar.xz.manifest']);
    const raw = outputNames(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=gpt_ext4\nCompressOutput=xz\n'));
    expect([raw.image, raw.nspawn]).toEqual(['image.raw.xz', 'image.nspawn']);
  });

  it('counts SHA256SUMS.gpg among the outputs with Sign=yes (which implies Checksum=yes)', () => {
    const files = producedFiles(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n[Validation]\nSign=yes\n')).map((file) => file.split('/').pop());
    expect(files).toEqual(expect.arrayContaining(['image.tar.xz', 'SHA256SUMS', 'SHA256SUMS.gpg']));
  });
});

describe('SplitArtifacts= of a bootable disk', () => {
  const names = (lines: string) => outputNames(configOf(`[Distribution]\nDistribution=debian\n[Output]\nFormat=gpt_ext4\nBootable=yes\nSplitArtifacts=yes\n${lines}`));

  it('names the unified kernel image <stem>.efi (compressed like the image), as mkosi 14', () => {
    expect(names('').splitKernel).toBe('image.efi');
    expect(names('CompressOutput=xz\n').splitKernel).toBe('image.efi.xz');
    expect(names('Output=web_1.2.raw\n').splitKernel).toBe('web_1.2.efi');
  });

  it('writes none without a unified kernel image (mkosi 14 named one, then failed to find it)', () => {
    expect(names('WithUnifiedKernelImages=no\n').splitKernel).toBeUndefined();
    expect(outputNames(configOf('[Distribution]\nDistribution=debian\n[Output]\nFormat=gpt_ext4\nSplitArtifacts=yes\n')).splitKernel).toBeUndefined();
  });
});
