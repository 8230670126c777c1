/**
 * Autologin=yes, as mkosi 14's configure_autologin(): root is logged in without a password on the
 * container console (console-getty), the first serial port (what `kiln qemu` with QemuHeadless=yes
 * shows) and the first virtual terminal, and PAM lets those terminals in without asking.
 */
import { readFileInRoot, writeFileInRoot } from '../tree/safe-path.js';
import type { Stage } from './types.js';

const AGETTY = "-/sbin/agetty -o '-p -- \\\\u' --autologin root";

/** The getty units and the ExecStart= that logs root in on each (mkosi 14's resources). */
export const AUTOLOGIN_DROPINS: readonly { unit: string; content: string }[] = [
  {
    unit: 'console-getty.service',
    content: `[Service]\nExecStart=\nExecStart=${AGETTY} --noclear --keep-baud console 115200,38400,9600 $TERM\n`,
  },
  {
    unit: 'serial-getty@ttyS0.service',
    content: `[Service]\nExecStart=\nExecStart=${AGETTY} --keep-baud 115200,57600,38400,9600 - $TERM\nStandardInput=tty\nStandardOutput=tty\n`,
  },
  {
    unit: 'getty@tty1.service',
    content: `[Service]\nExecStart=\nExecStart=${AGETTY} --noclear - $TERM\nStandardInput=tty\nStandardOutput=tty\n`,
  },
];

/** The terminals those units log in on; PAM names them with or without /dev/ depending on its version. */
const TTYS = ['pts/0', 'ttyS0', 'tty1', 'console'];

/** /etc/pam.d/login with root's passwordless terminals first. */
export function pamWithAutologin(original: string): string {
  const lines = TTYS.flatMap((tty) => [`auth sufficient pam_succeed_if.so tty = ${tty}`, `auth sufficient pam_succeed_if.so tty = /dev/${tty}`]);
  return `${lines.join('\n')}\n${original}`;
}

export const autologinStage: Stage = {
  title: 'Setting up autologin',
  enabled: (context) => context.config.Autologin,
  async run(context) {
    for (const { unit, content } of AUTOLOGIN_DROPINS) {
      await writeFileInRoot(context.root, `etc/systemd/system/${unit}.d/autologin.conf`, content);
    }
    const original = (await readFileInRoot(context.root, 'etc/pam.d/login')) ?? '';
    await writeFileInRoot(context.root, 'etc/pam.d/login', pamWithAutologin(original));
  },
};
