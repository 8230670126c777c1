import { readFileSync } from 'node:fs';

/** kiln's version, from package.json (also part of every cache key). */
export const KILN_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
