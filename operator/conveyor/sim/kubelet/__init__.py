"""The sim's "kubelet": runs each Pod's containers as local process groups and reports their status.

`process` supervises processes (no API), `logfiles` keeps their output in the CRI log format,
`pods` is the loop that watches Pods through the ApiService, and `logs` serves pods/log.
"""
