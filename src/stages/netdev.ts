/**
 * Netdev=yes, as mkosi 14's configure_netdev(): systemd-networkd enabled, with a .network file that
 * brings up the virtio network card of a virtual machine with DHCP (qemu's user networking serves
 * it; a tap link is served by the host's systemd-networkd). In a container, networkd's own
 * 80-container-host0.network configures the veth link `kiln boot` gives it.
 */
import { writeFileInRoot } from '../tree/safe-path.js';
import type { Stage } from './types.js';
import { enableUnits } from './units.js';

/** Adapted by mkosi 14 from systemd's 80-container-host0.network. */
export const NETDEV_NETWORK = `[Match]
Virtualization=!container
Type=ether
Driver=virtio_net

[Network]
DHCP=yes
LinkLocalAddressing=yes
LLDP=yes
EmitLLDP=customer-bridge

[DHCP]
UseTimezone=yes
`;

export const netdevStage: Stage = {
  title: 'Setting up the network',
  enabled: (context) => context.config.Netdev,
  async run(context) {
    await writeFileInRoot(context.root, 'etc/systemd/network/80-kiln-netdev.network', NETDEV_NETWORK);
    await enableUnits(context.root, ['systemd-networkd.service'], context.config.ExtraSearchPaths);
  },
};
