/** The verbs of the command line. This registry is the only list of them. */
import { UserError } from '../errors.js';
import { build } from './build.js';
import { clean } from './clean.js';
import { doctor } from './doctor.js';
import { genkey } from './genkey.js';
import { init } from './init.js';
import { serve } from './serve.js';
import { boot, shell } from './shell-boot.js';
import { summary } from './summary.js';
import type { Verb } from './types.js';
import { verify } from './verify.js';

function notYet(name: string, doc: string, shape: Partial<Verb> = {}): Verb {
  return {
    doc,
    origin: 'mkosi',
    ...shape,
    async run() {
      throw new UserError(`kiln ${name} is not implemented yet`);
    },
  };
}

function notSupported(name: string, doc: string, hint: string, shape: Partial<Verb> = {}): Verb {
  return {
    doc: `${doc} (not supported by kiln yet)`,
    origin: 'mkosi',
    ...shape,
    async run() {
      throw new UserError(`the ${name} verb is not supported by kiln yet`, { hint });
    },
  };
}

export const VERBS: Record<string, Verb> = {
  build,
  init,
  clean,
  summary,
  shell,
  boot,
  qemu: notSupported('qemu', 'Boot the image in a virtual machine', 'boot it in a container with kiln boot', { takesCommandLine: true }),
  ssh: notSupported('ssh', 'Connect to a running image with ssh', 'use machinectl shell or kiln shell', { takesCommandLine: true }),
  serve,
  bump: notYet('bump', 'Increase the last number of mkosi.version'),
  genkey,
  verify,
  doctor,
  help: { doc: 'Show this help', origin: 'mkosi', run: async () => undefined },
};
