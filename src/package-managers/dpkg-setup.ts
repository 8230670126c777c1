/**
 * How kiln sets up dpkg in a Debian or Ubuntu root, whichever tool installs it: where apt keeps its
 * downloads, and mkosi 14's WithDocs=no.
 */
export const ARCHIVES = 'var/cache/apt/archives';

/** mkosi 14's WithDocs=no: these are emptied, and dpkg keeps them empty for later installs too. */
export const DOC_PATHS = [
  '/usr/share/locale',
  '/usr/share/doc',
  '/usr/share/man',
  '/usr/share/groff',
  '/usr/share/info',
  '/usr/share/lintian',
  '/usr/share/linda',
];

/** dpkg's configuration for WithDocs=no, kept in the image so later installs stay lean too. */
export const NODOC = DOC_PATHS.map((p) => `path-exclude ${p}/*\n`).join('');

/** A word for sh -c, whatever it contains. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
