"""The metric catalogue of the export job (jobs layer): one PromQL expression per exported file.

Names and queries follow kube-state-metrics >= 2.0 (``{resource, unit}`` labels) and cAdvisor.
``$C`` in a template is the optional cluster matcher (``,cluster="prod-1"``) added when the job
runs against a multi-cluster store; without it the clusters would be summed together.
Requests and limits are joined with the Running phase because kube-state-metrics keeps them for
Pending and Succeeded pods too; info-like series use ``max by`` to survive duplicate scrapers.

Besides focusflow's set (``DEFAULT_METRICS``, exported when ``METRICS`` is not set), the
catalogue holds the names Finout's public docs list for its exporter that focusflow's set lacks
(``cpu_usage_v2``, ``bytes_received``, ...): ``METRICS`` accepts them and their files go under
``metric=<that name>``. The PromQL is focusflow's own, written to measure what Finout's name says.
"""

from __future__ import annotations

from dataclasses import dataclass

_RUNNING = ('* on(namespace,pod) group_left() max by (namespace,pod) '
            '(kube_pod_status_phase{phase="Running"$C} == 1)')


def _resource(metric: str, resource: str, unit: str | None) -> str:
    unit_matcher = f',unit="{unit}"' if unit else ""
    return (f'sum by (namespace,pod,container,node) ({metric}{{resource="{resource}"'
            f'{unit_matcher},container!=""$C}} {_RUNNING})')


def _rate(metric: str) -> str:
    return f'sum by (namespace,pod) (rate({metric}{{pod!=""$C}}[5m]))'


_NODE_FROM_INSTANCE = '"node", "$1", "instance", "(.+)"'


def _by_container(expression: str, selector: str, *, node_from_instance: bool) -> str:
    """Per (namespace, pod, container, node); the ``_v2`` variants Finout documents take the
    node from the scrape's ``instance`` label, for setups whose cAdvisor series lack ``node``."""
    if node_from_instance:
        series = expression.format(selector + ',instance!=""$C')
        inner = f"label_replace({series}, {_NODE_FROM_INSTANCE})"
    else:
        inner = expression.format(selector + "$C")
    return f"sum by (namespace,pod,container,node) ({inner})"


def _finout(name: str, expression: str, selector: str, description: str) -> MetricQuery:
    return MetricQuery(name, _by_container(expression, selector,
                                           node_from_instance=name.endswith("_v2")),
                       f"{description} (Finout name)", default=False)


_CPU = "rate(container_cpu_usage_seconds_total{{{}}}[5m])"
_MEMORY = "container_memory_working_set_bytes{{{}}}"
_CONTAINERS = 'container!="",container!="POD"'


@dataclass(frozen=True)
class MetricQuery:
    """One exported metric: its file name, PromQL template and what it measures."""

    name: str
    template: str
    description: str
    default: bool = True  # part of the set exported when METRICS is not given

    def promql(self, cluster_label: str = "", cluster_name: str = "") -> str:
        """The query, filtered to one cluster when ``cluster_label`` is set."""
        matcher = f',{cluster_label}="{_escape(cluster_name)}"' if cluster_label else ""
        query = self.template.replace("$C", matcher)
        # A selector that had only the cluster matcher must not start with a comma, and one
        # left empty reads better without braces.
        return query.replace("{,", "{").replace("{}", "")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


_METRICS = (
    MetricQuery("cpu_requests", _resource("kube_pod_container_resource_requests", "cpu", "core"),
                "CPU cores requested by running containers"),
    MetricQuery("memory_requests",
                _resource("kube_pod_container_resource_requests", "memory", "byte"),
                "memory bytes requested by running containers"),
    MetricQuery("cpu_limits", _resource("kube_pod_container_resource_limits", "cpu", "core"),
                "CPU core limits of running containers"),
    MetricQuery("memory_limits", _resource("kube_pod_container_resource_limits", "memory", "byte"),
                "memory byte limits of running containers"),
    MetricQuery("gpu_requests",
                _resource("kube_pod_container_resource_requests", "nvidia_com_gpu", None),
                "NVIDIA GPUs requested by running containers"),
    MetricQuery("cpu_usage",
                'sum by (namespace,pod,container,node) (rate(container_cpu_usage_seconds_total'
                '{container!="",container!="POD"$C}[5m]))',
                "CPU cores used (cAdvisor counter rate over 5m)"),
    MetricQuery("memory_usage",
                'sum by (namespace,pod,container,node) (container_memory_working_set_bytes'
                '{container!="",container!="POD"$C})',
                "memory working set bytes (cAdvisor)"),
    MetricQuery("node_capacity",
                'max by (node,resource,unit) (kube_node_status_capacity'
                '{resource=~"cpu|memory|nvidia_com_gpu"$C})',
                "node capacity per resource"),
    MetricQuery("node_allocatable",
                'max by (node,resource,unit) (kube_node_status_allocatable'
                '{resource=~"cpu|memory|nvidia_com_gpu"$C})',
                "node allocatable per resource"),
    MetricQuery("node_info",
                "max by (node,provider_id,internal_ip,kubelet_version) (kube_node_info{$C})",
                "node identity; provider_id joins to the cloud bill"),
    MetricQuery("node_labels", "kube_node_labels{$C}",
                "node labels (needs --metric-labels-allowlist=nodes=[*])"),
    MetricQuery("pod_labels", "kube_pod_labels{$C}",
                "pod labels (needs --metric-labels-allowlist=pods=[*])"),
    MetricQuery("namespace_labels", "kube_namespace_labels{$C}", "namespace labels"),
    MetricQuery("pod_info",
                "max by (namespace,pod,node,created_by_kind,created_by_name,uid) "
                "(kube_pod_info{$C})",
                "pod placement and creator"),
    MetricQuery("pod_owner",
                "max by (namespace,pod,owner_kind,owner_name) (kube_pod_owner{$C})",
                "pod owner (ReplicaSet, StatefulSet, Job, ...)"),
    MetricQuery("replicaset_owner",
                "max by (namespace,replicaset,owner_kind,owner_name) "
                "(kube_replicaset_owner{$C})",
                "ReplicaSet owner (Deployment), to resolve pod_owner"),
    MetricQuery("pvc_requests",
                "max by (namespace,persistentvolumeclaim) "
                "(kube_persistentvolumeclaim_resource_requests_storage_bytes{$C})",
                "storage bytes requested by each PVC"),
    MetricQuery("pvc_info",
                "max by (namespace,persistentvolumeclaim,storageclass,volumename) "
                "(kube_persistentvolumeclaim_info{$C})",
                "PVC to PV binding and storage class"),
    MetricQuery("pv_capacity",
                "max by (persistentvolume) (kube_persistentvolume_capacity_bytes{$C})",
                "capacity bytes of each PV"),
    MetricQuery("pod_pvc",
                "max by (namespace,pod,volume,persistentvolumeclaim) "
                "(kube_pod_spec_volumes_persistentvolumeclaims_info{$C})",
                "which pod mounts which PVC"),
    MetricQuery("network_receive", _rate("container_network_receive_bytes_total"),
                "bytes/s received per pod (rate over 5m)"),
    MetricQuery("network_transmit", _rate("container_network_transmit_bytes_total"),
                "bytes/s transmitted per pod (rate over 5m)"),
    # Names from Finout's "Ensure Compatibility of Your Kubernetes Monitoring with Finout".
    _finout("cpu_usage_v2", _CPU, _CONTAINERS, "CPU cores used, node from instance"),
    _finout("memory_usage_v2", _MEMORY, _CONTAINERS,
            "memory working set bytes, node from instance"),
    _finout("bytes_received", "rate(container_network_receive_bytes_total{{{}}}[5m])",
            'pod!=""', "bytes/s received"),
    _finout("bytes_transmitted", "rate(container_network_transmit_bytes_total{{{}}}[5m])",
            'pod!=""', "bytes/s transmitted"),
    _finout("bytes_received_v2", "rate(container_network_receive_bytes_total{{{}}}[5m])",
            'pod!=""', "bytes/s received, node from instance"),
    _finout("bytes_transmitted_v2", "rate(container_network_transmit_bytes_total{{{}}}[5m])",
            'pod!=""', "bytes/s transmitted, node from instance"),
)

CATALOGUE: dict[str, MetricQuery] = {metric.name: metric for metric in _METRICS}
"""Every exportable metric by name, in export order."""

DEFAULT_METRICS: tuple[str, ...] = tuple(m.name for m in _METRICS if m.default)
"""What a run exports when ``METRICS`` is not set: focusflow's set (Finout-only names opt in)."""
