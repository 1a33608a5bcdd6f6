"""Admission control in the local control plane: ValidatingAdmissionPolicies (CEL) and validating
admission webhooks, run on every write after the object is built and before it is stored, as
kube-apiserver's validating admission phase does."""
