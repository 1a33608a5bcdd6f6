"""`conveyor.sim.protobuf`: protobuf request bodies decode to what the same object sends as JSON.

The captured bodies below are what kubectl 1.35 sent to the sim for `kubectl create ... --dry-run=server`
(recorded once; base64). The reference is kubectl itself: `kubectl create ... --dry-run=client -o json`
prints Go's JSON encoding of the very object it would send, so decoding must give exactly that dict.
"""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conveyor.sim.errors import StatusError
from conveyor.sim.protobuf import decode_body
from conveyor.sim.protobuf.schema import load
from conveyor.sim.protobuf.special import format_duration

REPO = Path(__file__).resolve().parents[3]
KUBECTL = REPO / ".tools" / "bin" / "kubectl"
DATA_FILE = REPO / "operator" / "conveyor" / "sim" / "protobuf" / "k8s_1_35.json"
BINARY_CONTENT = b"\x00\x01\xffbinary"  # the file behind --from-file=bin=... in the configmap case
needs_kubectl = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl 1.35 is not in .tools/bin")

# name: (kubectl arguments, shell-quoted; the protobuf body kubectl 1.35 sent for them, base64)
CAPTURED: dict[str, tuple[str, str]] = {
    "configmap": ("create configmap x --from-literal=a=b --from-file=bin=BINFILE",
         "azhzAAoPCgJ2MRIJQ29uZmlnTWFwEi0KEQoBeBIAGgAiACoAMgA4AEIAEgYKAWESAWIaEAoDYmluEgkAAf9iaW5h"
         "cnkaACIA"),
    "secret": ("create secret generic s --from-literal=user=admin --from-literal=pw=p@ss",
         "azhzAAoMCgJ2MRIGU2VjcmV0EjAKEQoBcxIAGgAiACoAMgA4AEIAEgoKAnB3EgRwQHNzEg0KBHVzZXISBWFkbWlu"
         "GgAaACIA"),
    "namespace": ("create namespace ns1",
         "azhzAAoPCgJ2MRIJTmFtZXNwYWNlEhsKEwoDbnMxEgAaACIAKgAyADgAQgASABoCCgAaACIA"),
    "deployment": ("create deployment web --image=nginx --replicas=2 --port=80",
         "azhzAAoVCgdhcHBzL3YxEgpEZXBsb3ltZW50ErgBCh8KA3dlYhIAGgAiACoAMgA4AEIAWgoKA2FwcBIDd2ViEoYB"
         "CAISDAoKCgNhcHASA3dlYhpsChwKABIAGgAiACoAMgA4AEIAWgoKA2FwcBIDd2ViEkwSLgoFbmdpbngSBW5naW54"
         "KgAyCgoAEAAYUCIAKgBCAGoAcgCAAQCIAQCQAQCiAQAaADIAQgBKAFIAWABgAGgAggEAigEAmgEAwgEAIgIKACgA"
         "OAAaDAgAEAAYACAAKAA4ABoAIgA="),
    "job": ("create job j --image=busybox -- echo hi",
         "azhzAAoPCghiYXRjaC92MRIDSm9iEoIBChEKAWoSABoAIgAqADIAOABCABJjMmEKEAoAEgAaACIAKgAyADgAQgAS"
         "TRIqCgFqEgdidXN5Ym94GgRlY2hvGgJoaSoAQgBqAHIAgAEAiAEAkAEAogEAGgVOZXZlcjIAQgBKAFIAWABgAGgA"
         "ggEAigEAmgEAwgEAGgggACgAMAA6ABoAIgA="),
    "serviceaccount": ("create serviceaccount sa",
         "azhzAAoUCgJ2MRIOU2VydmljZUFjY291bnQSFAoSCgJzYRIAGgAiACoAMgA4AEIAGgAiAA=="),
    "role": ("create role r --verb=get,list --resource=pods,deployments.apps --resource-name=a",
         "azhzAAokChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgRSb2xlEk4KEQoBchIAGgAiACoAMgA4AEIAEhYK"
         "A2dldAoEbGlzdBIAGgRwb2RzIgFhEiEKA2dldAoEbGlzdBIEYXBwcxoLZGVwbG95bWVudHMiAWEaACIA"),
    "rolebinding": ("create rolebinding rb --role=r --user=u --serviceaccount=default:sa --group=g",
         "azhzAAorChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgtSb2xlQmluZGluZxKsAQoSCgJyYhIAGgAiACoA"
         "MgA4AEIAEiYKBFVzZXISGXJiYWMuYXV0aG9yaXphdGlvbi5rOHMuaW8aAXUiABInCgVHcm91cBIZcmJhYy5hdXRo"
         "b3JpemF0aW9uLms4cy5pbxoBZyIAEh8KDlNlcnZpY2VBY2NvdW50EgAaAnNhIgdkZWZhdWx0GiQKGXJiYWMuYXV0"
         "aG9yaXphdGlvbi5rOHMuaW8SBFJvbGUaAXIaACIA"),
    "service": ("create service clusterip svc --tcp=80:8080 --tcp=443:https",
         "azhzAAoNCgJ2MRIHU2VydmljZRKNAQofCgNzdmMSABoAIgAqADIAOABCAFoKCgNhcHASA3N2YxJmChsKBzgwLTgw"
         "ODASA1RDUBhQIgcIABCQPxoAKAAKIgoJNDQzLWh0dHBzEgNUQ1AYuwMiCwgBEAAaBWh0dHBzKAASCgoDYXBwEgNz"
         "dmMaACIJQ2x1c3RlcklQOgBCAFIAWgBgAGgAGgIKABoAIgA="),
    "priorityclass": ("create priorityclass pc --value=1000 --description=d --preemption-policy=Never",
         "azhzAAolChRzY2hlZHVsaW5nLms4cy5pby92MRINUHJpb3JpdHlDbGFzcxIjChIKAnBjEgAaACIAKgAyADgAQgAQ"
         "6AcYACIBZCoFTmV2ZXIaACIA"),
    "pdb_percent": ("create poddisruptionbudget pdb --selector=app=web --min-available=50%",
         "azhzAAogCglwb2xpY3kvdjESE1BvZERpc3J1cHRpb25CdWRnZXQSPAoTCgNwZGISABoAIgAqADIAOABCABIZCgkI"
         "ARAAGgM1MCUSDAoKCgNhcHASA3dlYhoKCAAYACAAKAAwABoAIgA="),
    "pdb_int": ("create poddisruptionbudget pdb2 --selector=app=web --max-unavailable=1",
         "azhzAAogCglwb2xpY3kvdjESE1BvZERpc3J1cHRpb25CdWRnZXQSOgoUCgRwZGIyEgAaACIAKgAyADgAQgASFhIM"
         "CgoKA2FwcBIDd2ViGgYIABABGgAaCggAGAAgACgAMAAaACIA"),
    "cronjob": ("create cronjob cj --image=busybox '--schedule=*/5 * * * *' -- echo hi",
         "azhzAAoTCghiYXRjaC92MRIHQ3JvbkpvYhKoAQoSCgJjahIAGgAiACoAMgA4AEIAEo8BCgsqLzUgKiAqICogKhoA"
         "Kn4KEgoCY2oSABoAIgAqADIAOABCABJoMmYKEAoAEgAaACIAKgAyADgAQgASUhIrCgJjahIHYnVzeWJveBoEZWNo"
         "bxoCaGkqAEIAagByAIABAIgBAJABAKIBABoJT25GYWlsdXJlMgBCAEoAUgBYAGAAaACCAQCKAQCaAQDCAQAaABoA"
         "IgA="),
    "quota": ("create quota q --hard=cpu=1,memory=1G,pods=2",
         "azhzAAoTCgJ2MRINUmVzb3VyY2VRdW90YRJAChEKAXESABoAIgAqADIAOABCABIpCgoKA2NwdRIDCgExCg4KBm1l"
         "bW9yeRIECgIxRwoLCgRwb2RzEgMKATIaABoAIgA="),
    "ingress": ("create ingress ing --rule=foo.com/bar=svc1:8080",
         "azhzAAofChRuZXR3b3JraW5nLms4cy5pby92MRIHSW5ncmVzcxJKChMKA2luZxIAGgAiACoAMgA4AEIAEi8aLQoH"
         "Zm9vLmNvbRIiCiAKHgoEL2JhchIPIg0KBHN2YzESBQoAEJA/GgVFeGFjdBoCCgAaACIA"),
}


# A DELETE's body from helm 4 (typed client): DeleteOptions, sent under apiVersion v1.
HELM_DELETE_OPTIONS = "azhzAAoTCgJ2MRINRGVsZXRlT3B0aW9ucxIAGgAiAA=="


# `kubectl create role` needs discovery even with --dry-run=client: its output, printed against the sim.
ROLE_CLIENT_JSON = {
    "kind": "Role", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "r"},
    "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]},
              {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"],
               "resourceNames": ["a"]}],
}


def kubectl_client_json(args: list[str], tmp_path: Path) -> dict[str, Any]:
    if args[:2] == ["create", "role"]:
        return ROLE_CLIENT_JSON
    binfile = tmp_path / "bin"
    binfile.write_bytes(BINARY_CONTENT)
    args = [a.replace("BINFILE", str(binfile)) for a in args]
    if "--" in args:
        cut = args.index("--")
        args = [*args[:cut], "--dry-run=client", "-o", "json", *args[cut:]]
    else:
        args = [*args, "--dry-run=client", "-o", "json"]
    out = subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, check=True, timeout=60,
                         env={"KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)})
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@needs_kubectl
@pytest.mark.parametrize("case", sorted(CAPTURED))
def test_kubectl_body_decodes_to_the_json_kubectl_would_send(case: str, tmp_path: Path) -> None:
    args, body = CAPTURED[case]
    assert decode_body(base64.b64decode(body)) == kubectl_client_json(shlex.split(args), tmp_path)


# --- hand-built bodies, for what kubectl's create commands do not send ----------------------------

def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def num(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes, *extra: bytes) -> bytes:
    return b"k8s\x00" + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw) + b"".join(extra)


def meta(name: str, *extra: bytes) -> bytes:
    return ld(1, ld(1, name) + b"".join(extra))


def test_time_is_rfc3339_in_utc_to_the_second() -> None:
    stamp = ld(8, num(1, 1704164645) + num(2, 999_000_000))  # creationTimestamp, nanos dropped
    obj = decode_body(envelope("v1", "ConfigMap", ld(1, ld(1, "c") + stamp)))
    assert obj["metadata"]["creationTimestamp"] == "2024-01-02T03:04:05Z"


def test_zero_creation_timestamp_is_omitted() -> None:
    obj = decode_body(envelope("v1", "ConfigMap", ld(1, ld(1, "c") + ld(8, b""))))
    assert obj["metadata"] == {"name": "c"}


def test_zero_time_under_omitempty_alone_is_null() -> None:
    condition = ld(1, "NamespaceDeletionDiscoveryFailure") + ld(2, "False") + ld(4, b"")
    obj = decode_body(envelope("v1", "Namespace", meta("n") + ld(3, ld(2, condition))))
    assert obj["status"]["conditions"] == [
        {"type": "NamespaceDeletionDiscoveryFailure", "status": "False", "lastTransitionTime": None}]


def test_micro_time_keeps_microseconds() -> None:
    spec = ld(4, num(1, 1704164645) + num(2, 123_456_789))  # renewTime
    obj = decode_body(envelope("coordination.k8s.io/v1", "Lease", meta("l") + ld(2, spec)))
    assert obj["spec"] == {"renewTime": "2024-01-02T03:04:05.123456Z"}


def test_pointer_to_zero_is_kept_and_nil_pointer_is_omitted() -> None:
    spec = num(2, 0)  # leaseDurationSeconds: 0; holderIdentity unset
    obj = decode_body(envelope("coordination.k8s.io/v1", "Lease", meta("l") + ld(2, spec)))
    assert obj["spec"] == {"leaseDurationSeconds": 0}


def test_negative_int32_reads_as_negative() -> None:
    obj = decode_body(envelope("scheduling.k8s.io/v1", "PriorityClass", meta("p") + num(2, -5)))
    assert obj["value"] == -5


def test_packed_and_unpacked_repeated_integers_read_alike() -> None:
    def pod(security_context: bytes) -> dict[str, Any]:
        spec = ld(14, security_context)
        return decode_body(envelope("v1", "Pod", meta("p") + ld(2, spec)))

    packed = pod(ld(4, varint(1000) + varint(2000)))
    unpacked = pod(num(4, 1000) + num(4, 2000))
    assert packed["spec"]["securityContext"]["supplementalGroups"] == [1000, 2000]
    assert unpacked["spec"]["securityContext"]["supplementalGroups"] == [1000, 2000]


def test_raw_extension_is_the_embedded_json() -> None:
    raw = json.dumps({"spec": {"template": {"x": 1}}}).encode()
    obj = decode_body(envelope("apps/v1", "ControllerRevision", meta("r") + ld(2, ld(1, raw)) + num(3, 4)))
    assert obj["data"] == {"spec": {"template": {"x": 1}}}
    assert obj["revision"] == 4


def test_named_slice_in_a_map_is_unwrapped() -> None:
    entry = ld(1, "scopes") + ld(2, ld(1, "a") + ld(1, "b"))
    user = ld(1, "alice") + ld(4, entry)
    status = ld(3, num(1, 1) + ld(2, user))
    obj = decode_body(envelope("authentication.k8s.io/v1", "TokenReview", meta("t") + status))
    assert obj["status"]["user"] == {"username": "alice", "extra": {"scopes": ["a", "b"]}}


def test_unknown_field_numbers_are_skipped() -> None:
    obj = decode_body(envelope("v1", "ConfigMap", meta("c") + num(99, 7) + ld(98, "x")))
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def test_delete_options_are_found_under_any_group_version() -> None:
    assert decode_body(base64.b64decode(HELM_DELETE_OPTIONS)) == {"apiVersion": "v1", "kind": "DeleteOptions"}
    body = envelope("apps/v1", "DeleteOptions", num(1, 0) + ld(4, "Foreground"))
    assert decode_body(body) == {"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                                 "propagationPolicy": "Foreground"}


def test_group_name_maps_to_its_api_package() -> None:
    schema = load()
    assert schema.go_type_of("rbac.authorization.k8s.io/v1", "Role") == "k8s.io/api/rbac/v1.Role"
    assert schema.go_type_of("v1", "Secret") == "k8s.io/api/core/v1.Secret"
    assert schema.go_type_of("internal.apiserver.k8s.io/v1alpha1", "StorageVersion") == (
        "k8s.io/api/apiserverinternal/v1alpha1.StorageVersion")


@pytest.mark.parametrize(("nanoseconds", "text"), [
    (0, "0s"), (1, "1ns"), (1500, "1.5µs"), (250_000_000, "250ms"), (1_500_000_000, "1.5s"),
    (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"), (-2_000_000_000, "-2s"),
])
def test_duration_renders_as_go_prints_it(nanoseconds: int, text: str) -> None:
    assert format_duration(nanoseconds) == text


def test_body_without_the_magic_is_a_bad_request() -> None:
    with pytest.raises(StatusError) as err:
        decode_body(b'{"kind": "ConfigMap"}')
    assert (err.value.code, err.value.reason) == (400, "BadRequest")


def test_truncated_body_is_a_bad_request() -> None:
    body = envelope("v1", "ConfigMap", meta("c"))
    with pytest.raises(StatusError) as err:
        decode_body(body[:-3])
    assert err.value.code == 400


def test_kind_without_a_schema_is_unsupported_media_type() -> None:
    with pytest.raises(StatusError) as err:
        decode_body(envelope("example.com/v1", "Widget", meta("w")))
    assert (err.value.code, err.value.reason) == (415, "UnsupportedMediaType")
    assert '"Widget"' in err.value.message


def test_compressed_body_is_unsupported_media_type() -> None:
    with pytest.raises(StatusError) as err:
        decode_body(envelope("v1", "ConfigMap", meta("c"), ld(3, "gzip")))
    assert err.value.code == 415


@needs_kubectl
def test_schema_file_is_what_the_generator_makes_from_kubectl() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import gen_k8s_protobuf_schema as generator
    finally:
        sys.path.remove(str(REPO / "scripts"))
    assert generator.generate(KUBECTL) == DATA_FILE.read_text(), (
        "k8s_1_35.json is stale: run scripts/gen_k8s_protobuf_schema.py")


def test_schema_file_stays_small() -> None:
    assert DATA_FILE.stat().st_size < 1_500_000
