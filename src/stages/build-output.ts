/**
 * What the development phase leaves for the image (mkosi 14's install_build_src() and
 * install_build_dest() in the final phase): the sources at /root/src when SourceFileTransferFinal=
 * copies them, and the content of the build script's $DESTDIR. Both are copied with the image's
 * safe tree copy: a link in the image or in $DESTDIR never leads a write out of the image.
 */
import path from 'node:path';
import { destinationDirectory } from '../build-directories.js';
import { sourceExclusions } from '../sources/exclusions.js';
import { copySources } from '../sources/copy-sources.js';
import { copyTreeIntoRoot } from '../tree/copy-tree.js';
import { SOURCES_IN_IMAGE } from './scripts.js';
import type { Stage } from './types.js';

export const finalSources: Stage = {
  title: 'Copying the sources into the image',
  enabled: (context) =>
    context.phase === 'final' && context.config.BuildSources !== null && ![null, 'mount'].includes(context.config.SourceFileTransferFinal),
  async run(context) {
    const { config } = context;
    const mode = config.SourceFileTransferFinal as Exclude<typeof config.SourceFileTransferFinal, null | 'mount'>;
    const sources = config.BuildSources!;
    const copy = path.join(context.workspace, 'final-sources');
    await copySources({ sources, mode, resolveSymlinks: config.SourceResolveSymlinksFinal, exclusions: sourceExclusions(config, sources, mode === 'copy-git-more') }, copy);
    await copyTreeIntoRoot(copy, context.root, SOURCES_IN_IMAGE);
  },
};

export const installBuildOutput: Stage = {
  title: 'Copying the build script\'s $DESTDIR into the image',
  enabled: (context) => context.phase === 'final' && context.config.BuildScript !== null,
  run: (context) => copyTreeIntoRoot(destinationDirectory(context), context.root),
};
