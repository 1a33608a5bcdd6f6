"""Reading Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).

client-go's typed clients send built-in kinds as protobuf; the sim answers in JSON (every client
also accepts it) and only needs to read such bodies. The schema comes from kubectl's own Go type
descriptors (scripts/gen_k8s_protobuf_schema.py), so no field table is kept by hand.

`decode` is the same function as `decode_body`, under the name server.py calls.
"""

from conveyor.sim.protobuf.decode import CONTENT_TYPE, MAGIC, decode_body, is_protobuf

decode = decode_body

__all__ = ["CONTENT_TYPE", "MAGIC", "decode", "decode_body", "is_protobuf"]
