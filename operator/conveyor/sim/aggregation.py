"""ClusterRole aggregation, as kube-controller-manager's clusterrole-aggregation controller does it:
the rules (pure); `role_aggregator.ClusterRoleAggregation` keeps the stored roles up to date.

What must hold:
- A ClusterRole with an `aggregationRule` holds exactly the union of the rules of the other
  ClusterRoles its `clusterRoleSelectors` select (any selector; an empty one selects all), in the
  order of the selected roles' names, each rule once. Whatever rules were written to it directly
  are replaced.
- Aggregation composes: a selected role may itself be aggregated (`view` into `edit` into
  `admin`), so the union is taken until nothing changes, and a cycle settles instead of looping.
"""

from __future__ import annotations

from typing import Any

from conveyor.sim.selectors import LabelSelector, selector_from_match

Rule = dict[str, Any]


def _selectors(role: dict[str, Any]) -> list[LabelSelector] | None:
    rule = role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    return [selector_from_match(s) for s in rule.get("clusterRoleSelectors") or ()]


def aggregated_rules(roles: list[dict[str, Any]]) -> dict[str, list[Rule]]:
    """For each aggregated ClusterRole among `roles` (name → rules), the rules it must hold."""
    by_name = {role["metadata"]["name"]: role for role in roles}
    names = sorted(by_name)
    current = {name: list(by_name[name].get("rules") or ()) for name in names}
    aggregated: dict[str, list[LabelSelector]] = {}
    for name in names:
        selectors = _selectors(by_name[name])
        if selectors is not None:
            aggregated[name] = selectors
    for _ in range(len(aggregated) + 1):
        changed = False
        for name, selectors in aggregated.items():
            rules: list[Rule] = []
            for other in names:
                labels = by_name[other]["metadata"].get("labels")
                if other != name and any(s.matches(labels) for s in selectors):
                    rules.extend(r for r in current[other] if r not in rules)
            if rules != current[name]:
                current[name] = rules
                changed = True
        if not changed:
            break
    return {name: current[name] for name in aggregated}
