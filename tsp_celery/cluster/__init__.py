"""Redis side of the cluster: key schema, job store, leases and fencing, Lamport clock, events."""
