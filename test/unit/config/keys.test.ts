import { describe, expect, it } from 'vitest';
import { camelToKebab, lookupFlag, lookupKey, suggestFlag, suggestKey, suggestSection } from '../../../src/config/keys.js';
import { SETTING_NAMES, SETTINGS } from '../../../src/config/settings/index.js';

describe('camelToKebab (mkosi _camel_to_arg)', () => {
  it.each([
    ['WithNetwork', 'with-network'],
    ['Distribution', 'distribution'],
    ['ESPSize', 'esp-size'],
    ['QCow2', 'q-cow2'], // hence mkosi's special names (QCow2= → --qcow2),
    ['GPTFirstLBA', 'gpt-first-lba'],
    ['NSpawnSettings', 'n-spawn-settings'],
    ['BMap', 'b-map'],
    ['MachineID', 'machine-id'],
    ['with-network', 'with-network'],
  ])('%s → %s', (camel, kebab) => expect(camelToKebab(camel)).toBe(kebab));
});

describe('lookupKey', () => {
  it('finds every key of the table by its own name', () => {
    for (const name of SETTING_NAMES) {
      if (SETTINGS[name].section === null) continue;
      expect(lookupKey(name)?.name).toBe(name);
    }
  });
  it('finds the spellings mkosi 14 derives through the option names', () => {
    expect(lookupKey('with-network')).toEqual({ name: 'WithNetwork', invert: false });
    expect(lookupKey('distribution')).toEqual({ name: 'Distribution', invert: false });
    expect(lookupKey('output-dir')?.name).toBe('OutputDirectory');
    expect(lookupKey('package')?.name).toBe('Packages');
  });
  it('finds old names that exist as options or keys', () => {
    expect(lookupKey('CheckSum')?.name).toBe('Checksum');
    expect(lookupKey('BuildEnvironment')?.name).toBe('Environment');
    expect(lookupKey('NetworkVeth')?.name).toBe('Netdev');
    expect(lookupKey('KernelCommandline')?.name).toBe('KernelCommandLine');
  });
  it('inverts keys spelled as negative options', () => {
    expect(lookupKey('WithoutTests')).toEqual({ name: 'WithTests', invert: true });
    expect(lookupKey('WithoutUnifiedKernelImages')).toEqual({ name: 'WithUnifiedKernelImages', invert: true });
  });
  it('is case-sensitive where mkosi 14 is', () => {
    expect(lookupKey('packages')).toBeUndefined();
    expect(lookupKey('WITHDOCS')).toBeUndefined();
    expect(lookupKey('Pakages')).toBeUndefined();
  });
});

describe('lookupFlag', () => {
  it('inverts -T and --without-tests but not --with-tests', () => {
    expect(lookupFlag('-T')).toEqual({ name: 'WithTests', invert: true });
    expect(lookupFlag('--without-tests')).toEqual({ name: 'WithTests', invert: true });
    expect(lookupFlag('--with-tests')).toEqual({ name: 'WithTests', invert: false });
  });
  it('knows mkosi short flags', () => {
    expect(lookupFlag('-d')?.name).toBe('Distribution');
    expect(lookupFlag('-t')?.name).toBe('Format');
    expect(lookupFlag('-f')?.name).toBe('Force');
    expect(lookupFlag('-M')?.name).toBe('Minimize');
    expect(lookupFlag('-E')?.name).toBe('Environment');
  });
  it('gives every flag of the table to exactly one setting', () => {
    const seen = new Map<string, string>();
    for (const name of SETTING_NAMES) {
      for (const flag of SETTINGS[name].flags) {
        expect(seen.get(flag), flag).toBeUndefined();
        seen.set(flag, name);
        expect(lookupFlag(flag)?.name).toBe(name);
      }
    }
  });
});

describe('suggestions', () => {
  it('suggests keys, flags and sections for typos', () => {
    expect(suggestKey('Pakages')).toBe('Packages');
    expect(suggestKey('RootSzie')).toBe('RootSize');
    expect(suggestFlag('--chekcsum')).toBe('--checksum');
    expect(suggestSection('Contnet')).toBe('Content');
    expect(suggestSection('Partition')).toBe('Partitions');
  });
  it('suggests nothing for words that are far from any', () => {
    expect(suggestKey('Completely')).toBeUndefined();
    expect(suggestSection('Unrelated')).toBeUndefined();
  });
});
