package doctor

// portHolderSupported: responder.PortHolder reads GetExtendedTcpTable here.
const portHolderSupported = true
