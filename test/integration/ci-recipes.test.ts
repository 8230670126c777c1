/**
 * docs/ci.md's recipes for GitHub Actions and GitLab CI, run as they are written there: the test
 * reads the YAML blocks of docs/ci.md, takes every command of their `run:` steps and `script:`
 * lists, and runs them in a project with two images (Arch and Fedora from the local test
 * repositories, so that it is quick): the plan commands list the images (as the JSON array GitHub
 * turns into a matrix, and as GitLab's child pipeline), and each image's build job writes the image
 * with SHA256SUMS and a valid SHA256SUMS.gpg into its own directory, with the packages in the
 * mkosi.cache/ the CI system keeps.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archPackages, fedoraPackages, missingFixtureInput } from '../fixtures/repos/packages.js';
import { buildPacmanRepo } from '../fixtures/repos/pacman-repo.js';
import { buildRpmRepo } from '../fixtures/repos/rpm-repo.js';
import { makeTestKey, type TestKey } from '../fixtures/repos/signing.js';
import { KILN, REPO, whyNotRoot } from './helpers/kiln.js';

const skip = whyNotRoot(['dnf', 'pacman', 'rpmbuild', 'createrepo_c', 'repo-add', 'gpg', 'jq', '/usr/bin/python3']) ?? missingFixtureInput();

/** The commands of docs/ci.md's recipes: GitHub's `run:` steps and GitLab's `script:` lines, by recipe and job. */
function recipeCommands(): Record<string, string[]> {
  const markdown = readFileSync(path.join(REPO, 'docs/ci.md'), 'utf8');
  const blocks = [...markdown.matchAll(/```yaml\n([^]*?)```/g)].map((match) => match[1]!);
  const script = `
import json, sys, yaml
out = {}
for text in json.load(sys.stdin):
    doc = yaml.safe_load(text)
    for name, job in (doc.get('jobs') or {}).items():
        out['github ' + name] = [step['run'].strip() for step in job.get('steps', []) if 'run' in step]
    for name, job in doc.items():
        if isinstance(job, dict) and 'script' in job:
            out['gitlab ' + name] = [line.strip() for line in job['script']]
json.dump(out, sys.stdout)
`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(blocks), encoding: 'utf8' })) as Record<string, string[]>;
}

describe.skipIf(skip)('docs/ci.md: one CI job per image of mkosi.files/', () => {
  let work: string;
  let project: string;
  let bin: string;
  let key: TestKey;
  let secretKey: string;
  let commands: Record<string, string[]>;

  /** Runs one recipe command with sh, as the CI runners do, in the project with kiln on PATH. */
  function sh(command: string, env: Record<string, string> = {}): string {
    const result = spawnSync('sh', ['-e', '-c', command], {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CI: 'true', ...env },
    });
    // A pipeline's status is its last command's: kiln's errors are looked for in its output.
    if (result.status !== 0 || result.stderr.includes('kiln: error')) throw new Error(`${command}\nexited with ${result.status}:\n${result.stderr}`);
    return result.stdout;
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'kiln-ci-'));
    bin = path.join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(KILN, path.join(bin, 'kiln'));
    const arch = await buildPacmanRepo(path.join(work, 'arch-repo'), archPackages());
    const fedora = await buildRpmRepo(path.join(work, 'fedora-repo'), fedoraPackages());
    project = path.join(work, 'project');
    mkdirSync(path.join(project, 'mkosi.files'), { recursive: true });
    const local = (distribution: string, url: string, more: string[] = []) =>
      ['[Distribution]', `Distribution=${distribution}`, ...more, `LocalMirror=${url}`, 'RepositoryKeyCheck=no', '[Output]', 'Format=tar', '[Content]', 'Packages=kiln-test-hello', ''].join('\n');
    writeFileSync(path.join(project, 'mkosi.files/mkosi.arch'), local('arch', arch.url));
    writeFileSync(path.join(project, 'mkosi.files/mkosi.fedora'), local('fedora', fedora.url, ['Release=38']));
    key = await makeTestKey(work, 'kiln CI key');
    secretKey = execFileSync('gpg', ['--homedir', key.home, '--batch', '--armor', '--export-secret-keys', key.fingerprint], { encoding: 'utf8' });
    commands = recipeCommands();
  });

  afterAll(() => {
    spawnSync('gpgconf', ['--homedir', path.join(work, 'ci-gnupg'), '--kill', 'all']);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('has the commands these tests run, in both recipes', () => {
    const build = [
      'mkdir -p mkosi.cache',
      'echo "$KILN_SIGNING_KEY" | gpg --batch --import',
      'kiln --all --image "$IMAGE" --output-dir "mkosi.output/$IMAGE" --checksum --sign --key "$KILN_KEY_ID" build',
    ];
    expect(commands['github plan']).toEqual([`echo "images=$(kiln --all summary --json | jq --compact-output 'map(.Image)')" >> "$GITHUB_OUTPUT"`]);
    expect(commands['github build']).toEqual(build);
    expect(commands['gitlab plan']).toHaveLength(1);
    expect(commands['gitlab .kiln-build']).toEqual(build);
  });

  it('plans a GitHub matrix of the images', () => {
    const output = path.join(work, 'github-output');
    writeFileSync(output, '');
    sh(commands['github plan']![0]!, { GITHUB_OUTPUT: output });
    expect(readFileSync(output, 'utf8')).toBe('images=["arch","fedora"]\n');
  });

  it('plans a GitLab child pipeline with a job per image', () => {
    sh(commands['gitlab plan']![0]!);
    const pipeline = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
        input: readFileSync(path.join(project, 'images.yml')),
        encoding: 'utf8',
      }),
    ) as Record<string, unknown>;
    expect(pipeline).toStrictEqual({
      include: '.gitlab/kiln-build.yml',
      'build arch': { extends: '.kiln-build', variables: { IMAGE: 'arch' } },
      'build fedora': { extends: '.kiln-build', variables: { IMAGE: 'fedora' } },
    });
  });

  it.each(['arch', 'fedora'])('builds %s in its own job: image, SHA256SUMS and its signature in the artifact, packages in the cache', (image) => {
    const env = { IMAGE: image, KILN_KEY_ID: key.fingerprint, KILN_SIGNING_KEY: secretKey, GNUPGHOME: path.join(work, 'ci-gnupg') };
    mkdirSync(env.GNUPGHOME, { recursive: true, mode: 0o700 });
    for (const command of commands['github build']!) sh(command, env);
    const artifact = path.join(project, 'mkosi.output', image, image === 'arch' ? 'arch~rolling' : 'fedora~38');
    expect(readdirSync(artifact).sort()).toEqual(['SHA256SUMS', 'SHA256SUMS.gpg', 'image.tar.xz', 'image.tar.xz.manifest']);
    execFileSync('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: artifact, stdio: 'pipe' });
    execFileSync('gpg', ['--homedir', key.home, '--batch', '--verify', 'SHA256SUMS.gpg', 'SHA256SUMS'], { cwd: artifact, stdio: 'pipe' });
    // pacman keeps the packages; dnf keeps the metadata (it reads a file:// repository's packages in place).
    const packages = path.join(project, 'mkosi.cache', path.basename(artifact), 'packages');
    const kept = readdirSync(packages, { recursive: true }).map(String);
    if (image === 'arch') expect(kept.some((name) => name.startsWith('kiln-test-hello-'))).toBe(true);
    else expect(kept.some((name) => name.endsWith('repomd.xml'))).toBe(true);
  });
});
