"""Conveyor's local control plane: a Kubernetes API server in Python, for `conveyor dev` and tests.

No cluster can run where Conveyor is developed, so this package stands in for kube-apiserver (and a
few controllers and a kubelet) wherever Conveyor, kubectl, helm, kopf and the official client touch
it. Fidelity is the point: behaviour, status codes, reasons and messages follow kube-apiserver.
It imports nothing from the rest of Conveyor, so it can be lifted out or replaced by a real cluster.
"""
