"""The Lease protocol (compare-and-swap on resourceVersion) that makes admission decisions durable."""
