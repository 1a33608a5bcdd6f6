"""kopf wiring: thin handlers, the admission loop, builders of Jobs, Leases and Events."""
