"""The operator: kopf wiring, the admission loop, builders of Jobs, Leases, leader election, metrics.

Reading order (the path of an Execution):
- `handlers`: kopf `on.event` handlers, on every replica, only record objects in the loop's cache;
- `leadership`: the leader Lease `conveyor-operator`; only the leader runs the loop;
- `admission_loop`: level-based; validates (`requests`), asks the pure policy
  (`conveyor.admission.policy`), carries decisions out through the Lease protocol
  (`conveyor.locks`) and CAS status patches (`status`), posts the Events of the transitions it
  makes (`conveyor.kube.events` says who posts which), acts on resume requests (`resume`), and
  makes sure admitted executions have a worker (`workers`: identity from `worker_identity`, Job
  from `worker_job`);
- `conveyor.kube.api`: the JSON client over `kubernetes.aio` every write goes through (and is
  counted), shared with the worker;
- `metrics`: /metrics and /healthz; `runtime`: starts and stops all of it together.
"""
