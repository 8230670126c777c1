/** AlmaLinux and AlmaLinux with EPEL: see centos-variants.ts. */
import { centosVariant, type CentosVariant } from './centos-variants.js';

const ALMA: Omit<CentosVariant, 'name' | 'epel'> = {
  label: 'AlmaLinux',
  mirrorDirectory: 'almalinux',
  mirrorList: (release, repository) => `https://mirrors.almalinux.org/mirrorlist/${release}/${repository.toLowerCase()}`,
  keyFile: () => '/etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux',
};

export const alma = centosVariant({ ...ALMA, name: 'alma', epel: false });
export const almaEpel = centosVariant({ ...ALMA, name: 'alma_epel', epel: true });
