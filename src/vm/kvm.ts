/**
 * Whether qemu uses KVM or emulates the CPU (TCG). mkosi 14 took KVM whenever /dev/kvm could be
 * opened; some hosts (nested or paravirtualised KVM, CI runners) have a /dev/kvm that cannot run
 * OVMF — the firmware stops with "KVM internal error … emulation failure". Unless QemuKvm= is set,
 * kiln asks the firmware itself: a few seconds of it under KVM must reach its boot manager
 * ("BdsDxe"), else the VM runs under TCG and one line says why.
 */
import { closeSync, openSync, statSync } from 'node:fs';
import { UserError } from '../errors.js';
import { debug } from '../log.js';
import { finish, spawn } from '../run.js';
import { qemuArgv, type QemuFirmware } from '../qemu.js';

/** mkosi 14's qemu_check_kvm_support(): /dev/kvm is a character device this user can open. */
export function kvmDeviceUsable(device = '/dev/kvm'): boolean {
  try {
    if (!statSync(device).isCharacterDevice()) return false;
    closeSync(openSync(device, 'r+'));
    return true;
  } catch {
    return false;
  }
}

export type ProbeVerdict = 'works' | 'fails' | 'undecided';

/** What the firmware's output so far says about KVM. */
export function judgeProbeOutput(output: string): ProbeVerdict {
  if (/KVM internal error|emulation failure|failed to initialize kvm|kvm run failed/i.test(output)) return 'fails';
  if (/BdsDxe|UEFI Interactive Shell|Shell>/.test(output)) return 'works';
  return 'undecided';
}

const PROBE_SECONDS = 15;

/** Boots the firmware alone under KVM until it says whether KVM works (at most 15 s). */
export async function probeKvm(binary: string, architecture: string, firmware: QemuFirmware): Promise<{ works: boolean; why: string }> {
  const argv = [
    ...qemuArgv({ binary, architecture, accelerator: 'kvm', smp: '1', memory: '128M', headless: true, boot: { type: 'uefi', firmware } }),
    '-no-reboot',
  ];
  const child = spawn(argv, { stdout: 'pipe', what: 'Trying KVM with the UEFI firmware' });
  let output = '';
  const verdict = await new Promise<ProbeVerdict | 'exited'>((resolve) => {
    const timer = setTimeout(() => resolve('undecided'), PROBE_SECONDS * 1000);
    const listen = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const judged = judgeProbeOutput(output);
      if (judged !== 'undecided') {
        clearTimeout(timer);
        resolve(judged);
      }
    };
    child.stdout?.on('data', listen);
    child.stderr?.on('data', listen);
    void child.then(() => {
      clearTimeout(timer);
      resolve('exited');
    });
  });
  child.kill('SIGKILL');
  await finish(child, argv).catch(() => undefined);
  debug(`KVM probe: ${verdict}\n${output}`);
  if (verdict === 'works') return { works: true, why: '' };
  const reason = /KVM internal error[^\n]*|emulation failure|failed to initialize kvm[^\n]*/i.exec(output)?.[0]?.trim();
  if (verdict === 'undecided') return { works: false, why: `the firmware did not start within ${PROBE_SECONDS} s` };
  return { works: false, why: reason ?? 'qemu stopped' };
}

export interface AcceleratorChoice {
  readonly accelerator: 'kvm' | 'tcg';
  /** One line for the user when kiln fell back to TCG by itself. */
  readonly note?: string;
}

/**
 * QemuKvm=yes takes KVM (refused without /dev/kvm, as mkosi 14 does), QemuKvm=no takes TCG; unset,
 * KVM is taken where it can run the firmware.
 */
export async function chooseAccelerator(
  setting: { readonly value: boolean; readonly explicit: boolean },
  probe: () => Promise<{ works: boolean; why: string }>,
  deviceUsable: () => boolean = () => kvmDeviceUsable(),
): Promise<AcceleratorChoice> {
  if (setting.explicit && !setting.value) return { accelerator: 'tcg' };
  if (setting.explicit) {
    if (!deviceUsable()) throw new UserError('QemuKvm=yes, but this host has no /dev/kvm that kiln can open', { hint: 'set QemuKvm=no to emulate the CPU in software (slow)' });
    return { accelerator: 'kvm' };
  }
  if (!deviceUsable()) return { accelerator: 'tcg', note: 'no usable /dev/kvm: qemu emulates the CPU in software (TCG), which is many times slower' };
  const result = await probe();
  if (result.works) return { accelerator: 'kvm' };
  return { accelerator: 'tcg', note: `KVM cannot run the UEFI firmware here (${result.why}): qemu emulates the CPU in software (TCG) instead` };
}
