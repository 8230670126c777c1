import { describe, expect, it } from 'vitest';
import { archiveName } from '../../../src/archive/tar-writer.js';

describe('archiveName', () => {
  it('puts a tree at the top of the archive, as tar -C ROOT . does', () => {
    expect(archiveName(Buffer.alloc(0)).toString()).toBe('./');
    expect(archiveName(Buffer.from('usr/bin/ping')).toString()).toBe('./usr/bin/ping');
  });

  it('puts a tree with a prefix below it (Incus\' rootfs/)', () => {
    expect(archiveName(Buffer.alloc(0), 'rootfs').toString()).toBe('./rootfs');
    expect(archiveName(Buffer.from('usr/bin/ping'), 'rootfs').toString()).toBe('./rootfs/usr/bin/ping');
  });
});
