"""The summary ``focusflow allocate`` prints after a run (its footer lines)."""

from __future__ import annotations

from decimal import Decimal

from focusflow.allocation.job import AllocationReport
from focusflow.cli.allocate import LISTED_NODES, _footer
from focusflow.sinks import LoadResult


def _report(nodes: int) -> AllocationReport:
    report = AllocationReport("k8s-allocation:x", "USD", 24, queries=17,
                              load=LoadResult("k8s_allocation", "k8s-allocation:x"))
    report.default_priced = {("prod", f"node-{n:03}"): (f"aws:///i-{n:03}", Decimal(24))
                             for n in range(nodes)}
    return report


def test_a_few_sheet_priced_nodes_are_all_named() -> None:
    footer = _footer(_report(3))
    assert "3 node(s) priced from the price sheet" in footer
    assert all(f"prod/node-{n:03} provider_id=aws:///i-{n:03} 24.00 node-hours" in footer
               for n in range(3))
    assert "more" not in footer


def test_a_big_cluster_without_billing_names_the_first_nodes_and_the_query_for_the_rest(
) -> None:
    # The trial's 50-node cluster printed 50 lines; a 2,000-node one would print 2,000.
    footer = _footer(_report(LISTED_NODES + 25))
    named = [line for line in footer.splitlines() if line.startswith("  prod/node-")]
    assert [line.split()[0] for line in named] == [f"prod/node-{n:03}"
                                                    for n in range(LISTED_NODES)]
    assert f"{LISTED_NODES + 25} node(s) priced from the price sheet" in footer
    assert ("… and 25 more (SELECT DISTINCT x_Cluster, x_Node FROM k8s_allocation "
            "WHERE x_PriceSource = 'default')") in footer
