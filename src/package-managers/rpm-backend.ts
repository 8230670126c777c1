/**
 * The image's RPM database in the format its own rpm can write. CentOS, Rocky and Alma up to 8 ship
 * rpm 4.14, which reads the sqlite database the host's rpm writes but cannot write it, so dnf in
 * mkosi.postinst or on the running system would fail. As mkosi 14 does, the image's own rpm rebuilds
 * the database as Berkeley DB inside the image (a throwaway systemd-nspawn) after every host-side
 * package-manager run. The host's rpm in turn only reads Berkeley DB (bdb_ro), so before it writes
 * again (RemovePackages=, packages added to a cached root) it turns the database back into sqlite —
 * which mkosi 14 did not, and so failed there.
 */
import path from 'node:path';
import { runInContainer } from '../container.js';
import type { BuildContext } from '../context.js';
import { run } from '../run.js';
import { existsInRoot, resolveInRoot } from '../tree/safe-path.js';

/** Where the image's rpm is; mkosi 14 rebuilds only when it is there. */
const IMAGE_RPM = 'usr/bin/rpm';

/** The database is in Berkeley DB format: its Packages file, and no sqlite database beside it. */
export async function isBerkeleyDatabase(root: string, database: string): Promise<boolean> {
  return (await existsInRoot(root, path.posix.join(database, 'Packages'))) && !(await existsInRoot(root, path.posix.join(database, 'rpmdb.sqlite')));
}

/** Has the image's own rpm rebuild its database with `backend`, inside the image. */
export async function rebuildForImage(context: BuildContext, backend: string): Promise<void> {
  if (!(await existsInRoot(context.root, IMAGE_RPM))) return;
  await runInContainer(context, [`/${IMAGE_RPM}`, '--rebuilddb', '--define', `_db_backend ${backend}`], {
    network: false,
    what: `Rebuilding the RPM database with the image's rpm (${backend})`,
    hint: "the image's rpm must be able to read the database the host's rpm wrote",
  });
}

/** Turns a Berkeley DB database back into sqlite with the host's rpm, so the host's dnf can write it. */
export async function rebuildForHost(context: BuildContext, database: string): Promise<void> {
  if (!(await isBerkeleyDatabase(context.root, database))) return;
  const dbpath = `/${path.relative(context.root, await resolveInRoot(context.root, database))}`;
  await run(['rpm', `--root=${context.root}`, `--dbpath=${dbpath}`, '--rebuilddb', '--define', '_db_backend sqlite'], {
    stdio: 'pipe',
    what: "Converting the image's RPM database for the host's rpm",
    hint: "the host's rpm reads a Berkeley DB database only where it was built with bdb_ro (Debian's is)",
    searchPaths: context.config.ExtraSearchPaths,
  });
}
