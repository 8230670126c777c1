/** The verbs of the command line. This registry is the only list of them. */
import { build } from './build.js';
import { bump } from './bump.js';
import { clean } from './clean.js';
import { doctor } from './doctor.js';
import { genkey } from './genkey.js';
import { init } from './init.js';
import { serve } from './serve.js';
import { qemu } from './qemu.js';
import { boot, shell } from './shell-boot.js';
import { ssh } from './ssh.js';
import { summary } from './summary.js';
import type { Verb } from './types.js';
import { verify } from './verify.js';

export const VERBS: Record<string, Verb> = {
  build,
  init,
  clean,
  summary,
  shell,
  boot,
  qemu,
  ssh,
  serve,
  bump,
  genkey,
  verify,
  doctor,
  help: { doc: 'Show this help', origin: 'mkosi', run: async () => undefined },
};
