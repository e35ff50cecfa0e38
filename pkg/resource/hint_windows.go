package resource

// loopbackRule is what to look at when the self-probe cannot connect:
// Windows Firewall's rules normally leave loopback alone, so it is most
// often other security software on the node.
const loopbackRule = "security software that filters loopback; Windows Firewall's rules normally leave loopback alone"
