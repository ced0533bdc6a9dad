"""Match Kubernetes nodes to billing resource ids (allocation layer, pure).

``kube_node_info{provider_id}`` and FOCUS ``ResourceId`` spell the same machine differently
(reference section 9). Both sides are reduced to comparison keys, case-insensitively:

- AWS: ``aws:///us-east-1a/i-0abc`` and ``arn:aws:ec2:...:instance/i-0abc`` -> ``i-0abc``.
- Azure: ``azure:///subscriptions/.../virtualMachines/vm`` -> the ARM id, lower-cased; a scale
  set instance (``.../virtualMachineScaleSets/ss/virtualMachines/3``) also matches a billing row
  of the scale set itself, whose cost is then shared by its nodes by node-hours.
- GCP: ``gce://project/zone/name`` -> ``name`` (also matches ``.../instances/name`` ids).
- A node without a provider id is keyed by its node name.
"""

from __future__ import annotations

import re

_AWS_INSTANCE = re.compile(r"(?:^|/)(i-[0-9a-f]+)$")
_VMSS_INSTANCE = re.compile(r"^(.*/virtualmachinescalesets/[^/]+)/virtualmachines/[^/]+$")


def billing_keys(resource_id: str) -> list[str]:
    """Comparison keys of a FOCUS ``ResourceId``."""
    rid = resource_id.strip().lower()
    if not rid:
        return []
    keys = [rid]
    aws = _AWS_INSTANCE.search(rid)
    if aws:
        keys.append(aws.group(1))
    if rid.startswith("/subscriptions/"):
        keys.append(rid.rstrip("/"))
    if "/instances/" in rid:  # GCP: //compute.googleapis.com/projects/p/zones/z/instances/n
        keys.append(rid.rsplit("/instances/", 1)[1])
    return list(dict.fromkeys(keys))


def node_keys(provider_id: str, node: str) -> list[str]:
    """Comparison keys of a node, most specific first."""
    pid = provider_id.strip().lower()
    if pid.startswith("aws://"):
        instance = pid.rstrip("/").rsplit("/", 1)[-1]
        return [instance]
    if pid.startswith("azure://"):
        arm = "/" + pid.removeprefix("azure://").lstrip("/").rstrip("/")
        scale_set = _VMSS_INSTANCE.match(arm)
        return [arm, scale_set.group(1)] if scale_set else [arm]
    if pid.startswith("gce://"):
        parts = pid.removeprefix("gce://").strip("/").split("/")
        return [parts[-1], f"projects/{parts[0]}/zones/{parts[1]}/instances/{parts[-1]}"
                ] if len(parts) == 3 else [parts[-1]]
    if pid:
        return [pid]
    return [node.lower()]


def normalized_resource_id(provider_id: str, node: str) -> str:
    """The id allocation rows carry in ``ResourceId``: the node's most specific key."""
    return node_keys(provider_id, node)[0]
