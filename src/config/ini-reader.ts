/**
 * A line-aware reader for mkosi.default files. mkosi 14 used Python's RawConfigParser with
 * `delimiters="="` and `inline_comment_prefixes=("#",)`; this reproduces that dialect, but keeps the
 * line of every assignment (the `ini` package loses repeated keys, continuation lines and lines).
 */
import { ConfigError } from '../errors.js';

export interface IniEntry {
  readonly file: string;
  /** Line of the `Key=` itself. */
  readonly line: number;
  readonly section: string;
  /** Line of the section header. */
  readonly sectionLine: number;
  readonly key: string;
  /** Continuation lines are joined with "\n", as configparser does. */
  readonly value: string;
}

export interface IniSection {
  readonly name: string;
  readonly line: number;
}

export interface IniDocument {
  readonly file: string;
  readonly sections: readonly IniSection[];
  readonly entries: readonly IniEntry[];
}

interface OpenEntry {
  line: number;
  section: string;
  sectionLine: number;
  key: string;
  indent: number;
  lines: string[];
}

/** Parses the text of one file. `file` is only used for messages. */
export function readIni(file: string, text: string): IniDocument {
  const sections: IniSection[] = [];
  const entries: IniEntry[] = [];
  let section: IniSection | undefined;
  let keysInSection = new Map<string, number>();
  let open: OpenEntry | undefined;

  const close = (): void => {
    if (!open) return;
    entries.push({
      file,
      line: open.line,
      section: open.section,
      sectionLine: open.sectionLine,
      key: open.key,
      value: open.lines.join('\n').trim(),
    });
    open = undefined;
  };

  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i] ?? '';
    const stripped = raw.trim();
    if (stripped.startsWith('#') || stripped.startsWith(';')) continue;
    const content = stripInlineComment(raw);
    const indent = raw.length - raw.trimStart().length;

    if (content.trim() === '') {
      // configparser keeps empty lines inside a value; they only matter for scalars, and trimming
      // the joined value removes them at the end anyway.
      if (open) open.lines.push('');
      continue;
    }

    if (open && indent > open.indent) {
      open.lines.push(content.trim());
      continue;
    }
    close();

    const header = /^\[(.*)\]$/.exec(content.trim());
    if (header) {
      const name = header[1] ?? '';
      const earlier = sections.find((s) => s.name === name);
      if (earlier) {
        throw new ConfigError(
          { file, line: lineNo },
          `section [${name}] appears twice in this file (first at line ${earlier.line})`,
          { hint: 'merge the two sections' },
        );
      }
      section = { name, line: lineNo };
      sections.push(section);
      keysInSection = new Map();
      continue;
    }

    const eq = content.indexOf('=');
    if (!section) {
      throw new ConfigError({ file, line: lineNo }, `"${content.trim()}" comes before any [Section] header`, {
        hint: 'start the file with a section such as [Distribution]',
      });
    }
    if (eq < 0) {
      throw new ConfigError({ file, line: lineNo }, `expected Key=Value, found "${content.trim()}"`);
    }
    const key = content.slice(0, eq).trim();
    if (key === '') {
      throw new ConfigError({ file, line: lineNo }, `missing key name before "="`);
    }
    const previous = keysInSection.get(key);
    if (previous !== undefined) {
      throw new ConfigError(
        { file, line: lineNo },
        `${key}= is set twice in [${section.name}] (first at line ${previous})`,
        { hint: 'put all values on one line or on indented continuation lines' },
      );
    }
    keysInSection.set(key, lineNo);
    open = {
      line: lineNo,
      section: section.name,
      sectionLine: section.line,
      key,
      indent,
      lines: [content.slice(eq + 1).trim()],
    };
  }
  close();
  return { file, sections, entries };
}

/** configparser treats "#" as an inline comment only when whitespace precedes it. */
function stripInlineComment(line: string): string {
  const match = /\s#/.exec(line);
  return match ? line.slice(0, match.index) : line;
}

/** Rejects files that are not text (mkosi would print a UnicodeDecodeError traceback). */
export function decodeConfigText(file: string, bytes: Uint8Array): string {
  if (bytes.includes(0)) {
    throw new ConfigError({ file }, 'is not a text file (it contains NUL bytes)', {
      hint: 'configuration files are INI text; did you point --default at an image?',
    });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError({ file }, 'is not a text file (it is not valid UTF-8)');
  }
}
