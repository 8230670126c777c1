/**
 * The build script in the development image, as mkosi 14's run_build_script() runs it: a throwaway
 * systemd-nspawn container with
 *   /root/<script>  the script, called with the arguments after `kiln build`;
 *   /root/src       BuildSources= ($SRCDIR, the working directory), copied or bound as
 *                   SourceFileTransfer= says;
 *   /root/dest      $DESTDIR: what the script installs there goes into the image;
 *   /root/build     BuildDirectory= ($BUILDDIR), kept on the host between builds;
 *   /usr/include    IncludeDirectory=, filled with the development image's headers;
 *   /var/tmp        a fresh directory of this build;
 * and $WITH_DOCS, $WITH_TESTS, $WITH_NETWORK, $MKOSI_CONFIG, $MKOSI_DEFAULT and Environment=. The
 * network is private unless WithNetwork=yes. Its output is shown as it runs; a failure names the
 * script and its exit code and shows its last lines, like a failing postinst.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { destinationDirectory } from '../build-directories.js';
import { runInContainer } from '../container.js';
import type { BuildContext } from '../context.js';
import { scriptOutput, step } from '../log.js';
import type { Bind } from '../nspawn.js';
import { sourceExclusions } from '../sources/exclusions.js';
import { copySources } from '../sources/copy-sources.js';
import { bindSources, checkInterpreter, scriptFailed, SOURCES_IN_IMAGE } from './scripts.js';

const SOURCES = `/${SOURCES_IN_IMAGE}`;
const DESTINATION = '/root/dest';
const BUILD = '/root/build';

const oneZero = (value: boolean): string => (value ? '1' : '0');

/** The configuration file mkosi 14 names in $MKOSI_CONFIG: --default, else mkosi.conf, else mkosi.default. */
export function configFileOf(directory: string, files: readonly string[]): string {
  return files.find((file) => path.dirname(file) === directory && /^mkosi\.(conf|default)$/.test(path.basename(file))) ?? path.join(directory, 'mkosi.default');
}

/** The sources at /root/src: bound as they are (mount), or a copy made for this build. */
async function sourcesMount(context: BuildContext): Promise<{ binds: Bind[]; extraArgs: string[] }> {
  const { config } = context;
  const sources = config.BuildSources!;
  const mode = config.SourceFileTransfer ?? 'copy-all';
  if (mode === 'mount') return bindSources(context);
  const copy = path.join(context.workspace, 'sources');
  await step(`Copying the sources (${mode})`, () =>
    copySources({ sources, mode, resolveSymlinks: config.SourceResolveSymlinks, exclusions: sourceExclusions(config, sources, mode === 'copy-git-more') }, copy),
  );
  return { binds: [{ source: copy, target: SOURCES }], extraArgs: [] };
}

/** mkosi 14 installed packages' headers straight into IncludeDirectory=; kiln copies them there from inside the image. */
async function fillIncludeDirectory(context: BuildContext, include: string): Promise<void> {
  await runInContainer(context, ['sh', '-c', 'if [ -d /usr/include ]; then cp -a /usr/include/. /run/kiln-include/; fi'], {
    network: false,
    binds: [{ source: include, target: '/run/kiln-include' }],
    what: 'Copying /usr/include into IncludeDirectory=',
  });
}

export async function runBuildScript(context: BuildContext, args: readonly string[], configFile: string): Promise<void> {
  const { config } = context;
  const script = config.BuildScript!;
  await checkInterpreter(context, script);
  const inside = `/root/${path.basename(script)}`;

  const destination = destinationDirectory(context);
  await fs.mkdir(destination, { recursive: true, mode: 0o755 });
  const varTmp = path.join(context.workspace, 'var-tmp');
  await fs.mkdir(varTmp, { recursive: true });
  await fs.chmod(varTmp, 0o1777);

  const binds: Bind[] = [
    { source: script, target: inside, readOnly: true },
    { source: destination, target: DESTINATION },
    { source: varTmp, target: '/var/tmp' },
  ];
  const extraArgs: string[] = [];
  const env: Record<string, string> = {
    WITH_DOCS: oneZero(config.WithDocs),
    WITH_TESTS: oneZero(config.WithTests),
    WITH_NETWORK: oneZero(config.WithNetwork === true),
    DESTDIR: DESTINATION,
    MKOSI_CONFIG: configFile,
    MKOSI_DEFAULT: configFile,
  };
  if (config.BuildSources !== null) {
    const mount = await sourcesMount(context);
    binds.push(...mount.binds);
    extraArgs.push(...mount.extraArgs, `--chdir=${SOURCES}`);
    env.SRCDIR = SOURCES;
  } else {
    extraArgs.push('--chdir=/root');
  }
  if (config.BuildDirectory !== null) {
    binds.push({ source: config.BuildDirectory, target: BUILD });
    env.BUILDDIR = BUILD;
  }
  if (config.IncludeDirectory !== null) {
    await fs.mkdir(config.IncludeDirectory, { recursive: true });
    await step('Copying /usr/include into IncludeDirectory=', () => fillIncludeDirectory(context, config.IncludeDirectory!));
    binds.push({ source: config.IncludeDirectory, target: '/usr/include' });
  }

  await step(`Running the build script ${path.basename(script)}`, async () => {
    try {
      await runInContainer(context, [inside, ...args], {
        network: config.WithNetwork === true,
        binds,
        // Environment= comes last and wins, as in mkosi 14.
        env: { ...env, ...config.Environment },
        extraArgs,
        what: `Running ${path.basename(script)}`,
        onOutput: scriptOutput,
      });
    } catch (error) {
      throw scriptFailed(script, error, 'its output is above (the last lines again just before this)');
    }
  });
}
