/**
 * mkosi-compat/settings-matrix.md against mkosi 14 itself: mkosi 14's own argument parser (the
 * installed Debian package) lists every setting, with its options; every one must have a row in the
 * matrix, with its options and keys that mkosi 14 maps to those options. A few
 * rows are also checked as written out by hand. Needs python3 and mkosi 14 (CI installs both).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config/settings/index.js';
import { MATRIX_FILE, renderMatrix } from '../../mkosi-compat/generate-matrix.mjs';
import { tableRows } from '../../mkosi-compat/table.mjs';
import { unavailable } from '../skip.js';

const MKOSI = '/usr/lib/python3/dist-packages/mkosi/__init__.py';

function missing(): string | undefined {
  try {
    execFileSync('python3', ['--version'], { stdio: 'pipe' });
  } catch {
    return 'python3 is not installed';
  }
  return existsSync(MKOSI) ? undefined : 'mkosi 14 is not installed (apt-get install mkosi)';
}

interface MkosiOption {
  /** The argument group's title: "Distribution", "Host configuration", … */
  readonly group: string;
  readonly options: string[];
}

/** mkosi 14's options by argument group, and the option mkosi 14 turns each of `keys` into (KEY= → --key). */
function askMkosi(keys: readonly string[]): { options: MkosiOption[]; optionOfKey: Record<string, string> } {
  const script = `
import json, sys
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import mkosi
parser = mkosi.create_parser()
options = [{"group": group.title, "options": action.option_strings}
           for group in parser._action_groups for action in group._group_actions if action.option_strings]
keys = json.load(sys.stdin)
print(json.dumps({"options": options, "optionOfKey": {key: parser._ini_key_to_cli_arg(key) for key in keys}}))
`;
  const result = spawnSync('python3', ['-c', script], { input: JSON.stringify(keys), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`python3 with mkosi 14 failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

interface Row {
  readonly keys: string[];
  readonly flags: string[];
  readonly status: string;
  readonly line: string;
}

/** The table rows of the Markdown file as a reader sees them. */
function readMatrix(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    const cells = /^\| (`.+=`) \| (.*) \| (\w+) \| .* \|$/.exec(line);
    if (!cells) continue;
    const words = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
    rows.push({ keys: words(cells[1]!).map((key) => key.slice(0, -1)), flags: words(cells[2]!), status: cells[3]!, line });
  }
  return rows;
}

const matrixText = readFileSync(fileURLToPath(MATRIX_FILE), 'utf8');
const rows = readMatrix(matrixText);

/** mkosi 14's argument groups that hold its settings (the others: verbs, -C, --default, --all, --debug…). */
const SETTING_GROUPS = ['Distribution', 'Output', 'Content', 'Partitions', 'Validation (only gpt_ext4, gpt_xfs, gpt_btrfs, gpt_squashfs, tar, cpio)', 'Host configuration'];

describe('mkosi-compat/settings-matrix.md', () => {
  it('is what generate-matrix.mjs makes of the current settings table (else: npm run compat:matrix)', () => {
    expect(matrixText).toBe(renderMatrix(tableRows(SETTINGS)));
  });

  it('shows these rows as written', () => {
    expect(rows.map((row) => row.line)).toEqual(expect.arrayContaining([
      '| `Release=` | `-r`, `--release` | supported | Release to install: a codename for Debian and Ubuntu (default: the host\'s release if the distribution matches) |',
      '| `WithTests=` | `-T`, `--without-tests`, `--with-tests` | supported | Let the build script run its tests ($WITH_TESTS=1); -T: $WITH_TESTS=0 |',
      '| `Checksum=`, `CheckSum=` | `--checksum` | supported | Write SHA256SUMS beside the outputs (implied by Sign=) |',
      '| `NSpawnSettings=` | `--settings` | supported | .nspawn file copied beside the image (default: mkosi.nspawn) |',
      '| `Bootstrapper=` | `--bootstrapper` | supported | kiln: tool that bootstraps Debian and Ubuntu (default: mmdebstrap when installed, else debootstrap) (kiln-only) |',
    ]));
  });

  it('counts its rows right', () => {
    const count = (status: string) => rows.filter((row) => row.status === status).length;
    expect(matrixText).toContain(`\n${rows.length} settings: ${count('supported')} supported, ${count('partial')} partial, ${count('unsupported')} unsupported.\n`);
  });

  describe.skipIf(unavailable(missing()))('against mkosi 14\'s own parser', () => {
    const { options, optionOfKey } = askMkosi(rows.flatMap((row) => row.keys));
    const settings = options.filter((option) => SETTING_GROUPS.includes(option.group));

    it('finds mkosi 14\'s settings where the parser has them (the test reads the parser right)', () => {
      expect(settings.length).toBeGreaterThan(100);
      expect(settings).toContainEqual({ group: 'Output', options: ['-t', '--format'] });
      expect(settings).toContainEqual({ group: 'Host configuration', options: ['--ssh-port'] });
    });

    // Sections are not checked: mkosi 14 reads a key in any section, and its parser's groups and
    // its man page place some keys differently (MachineID=, UsrOnly=).
    it('has one row for each mkosi 14 setting, with all of its options', () => {
      for (const setting of settings) {
        // --xz is mkosi 14's hidden shorthand for --compress-output=xz (XZ=yes in a file), not a setting.
        if (setting.options.includes('--xz')) continue;
        const holding = rows.filter((row) => setting.options.some((option) => row.flags.includes(option)));
        expect(holding.map((row) => row.keys[0]), setting.options.join(' ')).toHaveLength(1);
        const row = holding[0]!;
        expect(row.flags, row.keys[0]).toEqual(expect.arrayContaining(setting.options));
      }
    });

    it('names each row by keys that mkosi 14 reads as that row\'s options, and marks the others kiln-only', () => {
      const mkosiOptions = new Set(settings.flatMap((setting) => setting.options));
      for (const row of rows) {
        const kilnOnly = row.line.endsWith('(kiln-only) |');
        if (kilnOnly) {
          expect(row.flags.filter((flag) => mkosiOptions.has(flag)), row.keys[0]).toEqual([]);
          continue;
        }
        for (const key of row.keys) expect(row.flags, key).toContain(optionOfKey[key]);
      }
    });
  });
});
