/** Small throwaway projects for tests that need a real but quick build. */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The quickest real Debian build: minbase only (BasePackages=no), a directory output. Extra lines go
 * into mkosi.default's [Content] section.
 */
export function minimalProject(options: { format?: string; content?: string; output?: string } = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-it-'));
  chmodSync(dir, 0o755);
  writeFileSync(
    path.join(dir, 'mkosi.default'),
    [
      '[Distribution]',
      'Distribution=debian',
      '',
      '[Output]',
      `Format=${options.format ?? 'directory'}`,
      options.output ?? '',
      '',
      '[Content]',
      'BasePackages=no',
      options.content ?? '',
      '',
    ].join('\n'),
  );
  return dir;
}

export function writeScript(dir: string, name: string, body: string): void {
  writeFileSync(path.join(dir, name), body, { mode: 0o755 });
}

export function writeTree(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
}
