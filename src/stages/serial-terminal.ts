/**
 * QemuHeadless=yes, as mkosi 14's configure_serial_terminal(): the serial console is the terminal kiln
 * qemu runs in, so the getty on ttyS0 gets the building terminal's type and size instead of agetty's
 * guess (vt102, 80×24), and full-screen programs draw correctly there.
 */
import { writeFileInRoot } from '../tree/safe-path.js';
import type { Stage } from './types.js';

export interface TerminalShape {
  readonly term: string | undefined;
  readonly columns: number | undefined;
  readonly rows: number | undefined;
}

/** The drop-in of serial-getty@ttyS0.service; a terminal of unknown size counts as 80×24, as in mkosi 14. */
export function serialTerminalDropin(shape: TerminalShape): string {
  const columns = shape.columns ?? 80;
  const rows = shape.rows ?? 24;
  // A value with spaces or quotes would change what the line means to systemd.
  const term = shape.term && /^[\w.+-]+$/.test(shape.term) ? shape.term : 'vt220';
  return [
    '[Service]',
    `Environment=TERM=${term}`,
    `Environment=COLUMNS=${columns}`,
    `Environment=LINES=${rows}`,
    `TTYColumns=${columns}`,
    `TTYRows=${rows}`,
    '',
  ].join('\n');
}

export const serialTerminalStage: Stage = {
  title: 'Configuring the serial console (QemuHeadless=yes)',
  enabled: (context) => context.config.QemuHeadless,
  async run(context) {
    const shape = { term: process.env.TERM, columns: process.stdout.columns, rows: process.stdout.rows };
    await writeFileInRoot(context.root, 'etc/systemd/system/serial-getty@ttyS0.service.d/term.conf', serialTerminalDropin(shape));
  },
};
