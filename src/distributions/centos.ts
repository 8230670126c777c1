/** CentOS (Stream) and CentOS with EPEL: see centos-variants.ts. */
import { centosVariant, type CentosVariant } from './centos-variants.js';

const CENTOS: Omit<CentosVariant, 'name' | 'epel'> = {
  label: 'CentOS',
  mirrorDirectory: 'centos',
  mirrorList: (release, repository) => `http://mirrorlist.centos.org/?release=${release}&arch=$basearch&repo=${repository}`,
  keyFile: () => '/etc/pki/rpm-gpg/RPM-GPG-KEY-centosofficial',
};

export const centos = centosVariant({ ...CENTOS, name: 'centos', epel: false });
export const centosEpel = centosVariant({ ...CENTOS, name: 'centos_epel', epel: true });
