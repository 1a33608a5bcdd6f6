"""The Lease protocol (compare-and-swap on resourceVersion) that makes admission decisions durable.

`holders`: who holds a Lease, read from and written to the object (pure); `leases`: the CAS reads
and writes and the two start orders (deployment start, system-wide barrier); `api`: the narrow API
interface the protocol needs and the errors it tells apart.
"""
