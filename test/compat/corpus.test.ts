/**
 * The compatibility contract: for every case of mkosi-compat/corpus/, kiln resolves exactly what
 * mkosi 14 resolves (expected.json, written by mkosi-compat/generate.py from mkosi 14's own parser),
 * except for the deviations listed with their reasons in mkosi-compat/deviations.json — and for
 * those, kiln's own value is asserted too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/config/summary.js';
import { caseNames, COMPAT, CORPUS, resolveCase, substitute } from './corpus.js';

interface Deviation {
  readonly key: string;
  /** Only in these cases (default: any). */
  readonly cases?: readonly string[];
  /** The stored mkosi 14 value this applies to (default: any); kiln-only keys have none. */
  readonly mkosi?: JsonValue;
  readonly kilnOnly?: boolean;
  /** Conditions on kiln's resolved values: a value, or a list of allowed values. */
  readonly when?: Readonly<Record<string, JsonValue>>;
  readonly kiln: JsonValue;
  readonly reason: string;
}

const { deviations } = JSON.parse(readFileSync(path.join(COMPAT, 'deviations.json'), 'utf8')) as {
  deviations: Deviation[];
};
const used = new Set<Deviation>();

function matches(deviation: Deviation, name: string, key: string, mkosi: JsonValue | undefined, kiln: Record<string, JsonValue>): boolean {
  if (deviation.key !== key) return false;
  if (deviation.cases && !deviation.cases.includes(name)) return false;
  if (deviation.kilnOnly) {
    if (mkosi !== undefined) return false;
  } else if ('mkosi' in deviation && !isDeepStrictEqual(deviation.mkosi, mkosi)) {
    return false;
  }
  for (const [other, wanted] of Object.entries(deviation.when ?? {})) {
    const allowed = Array.isArray(wanted) ? wanted : [wanted];
    if (!allowed.some((value) => isDeepStrictEqual(value, kiln[other]))) return false;
  }
  return true;
}

describe('mkosi-compat corpus: kiln resolves what mkosi 14 resolves', () => {
  const names = caseNames();

  it('has at least 25 cases, each with a stored expectation', () => {
    expect(names.length).toBeGreaterThanOrEqual(25);
  });

  it('documents a reason for every deviation', () => {
    for (const deviation of deviations) expect(deviation.reason.length, deviation.key).toBeGreaterThan(20);
  });

  for (const name of names) {
    it(name, () => {
      const stored = JSON.parse(readFileSync(path.join(CORPUS, name, 'expected.json'), 'utf8')) as Record<string, JsonValue>;
      const resolved = resolveCase(name);
      try {
        expect(resolved.errors).toEqual([]);
        const kiln = resolved.json;
        const facts = { dir: resolved.dir, kiln };
        const mismatches: string[] = [];
        for (const key of new Set([...Object.keys(stored), ...Object.keys(kiln)])) {
          const mkosi = key in stored ? substitute(stored[key]!, facts) : undefined;
          if (!(key in kiln)) {
            mismatches.push(`${key}: kiln has no such key (mkosi 14: ${JSON.stringify(mkosi)})`);
            continue;
          }
          const deviation = deviations.find((d) => matches(d, name, key, key in stored ? stored[key] : undefined, kiln));
          if (deviation) {
            used.add(deviation);
            const wanted = substitute(deviation.kiln, facts);
            if (!isDeepStrictEqual(kiln[key], wanted)) {
              mismatches.push(`${key}: kiln ${JSON.stringify(kiln[key])}, deviation says ${JSON.stringify(wanted)}`);
            } else if (isDeepStrictEqual(kiln[key], mkosi)) {
              mismatches.push(`${key}: listed as a deviation but kiln agrees with mkosi 14 here`);
            }
            continue;
          }
          if (mkosi === undefined) mismatches.push(`${key}: kiln-only key without a deviation entry`);
          else if (!isDeepStrictEqual(kiln[key], mkosi)) {
            mismatches.push(`${key}: kiln ${JSON.stringify(kiln[key])}, mkosi 14 ${JSON.stringify(mkosi)}`);
          }
        }
        expect(mismatches).toEqual([]);
      } finally {
        resolved.cleanup();
      }
    });
  }

  // Runs after the cases above (tests of a file run in order), so every deviation has had its chance.
  it('uses every deviation in some case', () => {
    const stale = deviations.filter((d) => !used.has(d)).map((d) => `${d.key}${d.cases ? ` (${d.cases.join(', ')})` : ''}`);
    expect(stale, 'deviations that no case uses any more').toEqual([]);
  });
});
