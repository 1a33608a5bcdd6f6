"""The operator: kopf wiring, the admission loop, builders of Jobs, Leases, Events, leader election,
metrics.

Reading order (the path of an Execution):
- `handlers`: kopf `on.event` handlers, on every replica, only record objects in the loop's cache;
- `leadership`: the leader Lease `conveyor-operator`; only the leader runs the loop;
- `admission_loop`: level-based; validates (`requests`), asks the pure policy
  (`conveyor.admission.policy`), carries decisions out through the Lease protocol
  (`conveyor.locks`) and CAS status patches (`status`), posts Events (`events`), creates worker
  Jobs (`worker_job`);
- `kube_api`: the JSON client over `kubernetes.aio` every write goes through (and is counted);
- `metrics`: /metrics and /healthz; `runtime`: starts and stops all of it together.
"""
