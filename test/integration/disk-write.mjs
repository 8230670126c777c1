// Runs one output format the way the build pipeline does (check(), then write() into a staging
// directory, SHA256SUMS with Checksum=, then the pipeline's commit into place) on an existing tree, with kiln from dist/.
// The disk tests start it in a mount namespace where every loop device node is masked.
//
//   node disk-write.mjs DIST CONFIG_DIR ROOT [SEED [EPOCH]]
//
// Prints {"artifacts": [...], "ms": N} on success, or {"error": "...", "hint": "..."} and exits 1.
import fs from 'node:fs';
import path from 'node:path';

const [dist, configDir, root, seed, epoch] = process.argv.slice(2);
const { loadConfig } = await import(path.join(dist, 'config/load.js'));
const { OUTPUTS } = await import(path.join(dist, 'outputs/index.js'));
const { CleanupStack } = await import(path.join(dist, 'context.js'));
const { commitArtifacts } = await import(path.join(dist, 'artifacts/commit.js'));
const { stageChecksums } = await import(path.join(dist, 'artifacts/sidecars.js'));

const { config } = loadConfig({ directory: configDir, commandLine: [] });
const outputDirectory = path.dirname(config.Output);
fs.mkdirSync(outputDirectory, { recursive: true });
const workspace = fs.mkdtempSync(path.join(outputDirectory, '.kiln-build-'));
const staging = path.join(workspace, 'staging');
fs.mkdirSync(staging);
const context = {
  config,
  phase: 'final',
  directory: configDir,
  workspace,
  root,
  staging,
  outputDirectory,
  packageCache: workspace,
  cleanup: new CleanupStack(),
  artifacts: [],
  packages: [],
  nspawnFlags: [],
  reproducibility: { epoch: epoch ? Number(epoch) : null, seed: seed || null },
  reusedCachedRoot: false,
  debug: [],
};
const format = OUTPUTS[config.Format];
const started = performance.now();
try {
  await format.check?.(config, outputDirectory);
  await format.write(context);
  const ms = Math.round(performance.now() - started);
  await stageChecksums(context);
  await commitArtifacts(context);
  process.stdout.write(`${JSON.stringify({ artifacts: context.artifacts, ms })}\n`);
} catch (error) {
  // KilnErrors (the user's to fix) carry an exit code; anything else is a bug and shows its stack.
  process.stdout.write(`${JSON.stringify({ error: error.message, hint: error.hint, stack: 'exitCode' in error ? undefined : error.stack })}\n`);
  process.exitCode = 1;
} finally {
  await context.cleanup.unwind();
  fs.rmSync(workspace, { recursive: true, force: true });
}
