"""What the `kubernetes` plugin and the snapshot workflows share: a synchronous JSON client of the
API server (`client`), manifest parsing and the namespace rule (`manifests`), and the pure readiness
checks behind `kubernetes.wait` (`readiness`)."""
