"""gRPC federation transport: server (servicer), uplink client, status mapping."""
