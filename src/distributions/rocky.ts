/** Rocky Linux and Rocky Linux with EPEL: see centos-variants.ts. */
import { centosVariant, type CentosVariant } from './centos-variants.js';

const ROCKY: Omit<CentosVariant, 'name' | 'epel'> = {
  label: 'Rocky Linux',
  mirrorDirectory: 'rocky',
  mirrorList: (release, repository) => `https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=${repository}-${release}`,
  keyFile: (major) => `/etc/pki/rpm-gpg/RPM-GPG-KEY-${major >= 9 ? `Rocky-${major}` : 'rockyofficial'}`,
};

export const rocky = centosVariant({ ...ROCKY, name: 'rocky', epel: false });
export const rockyEpel = centosVariant({ ...ROCKY, name: 'rocky_epel', epel: true });
