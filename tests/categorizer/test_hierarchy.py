"""Step B, templates and manual edits: every edit is a new version and keeps the invariants."""

from __future__ import annotations

import json

import pytest

from rft_categorizer.categorize import decide_topic
from rft_categorizer.editing import (
    EditRefusal,
    HierarchyEditError,
    MissingEditArgument,
    add_topic,
    apply_edit,
    delete_topic,
    describe_topic,
    find_topic,
    leaf_paths,
    move_topic,
    rename_topic,
    reorder_topics,
)
from rft_categorizer.templates import (
    HierarchyFileError,
    load_template,
    parse_hierarchy_file,
    template_names,
)
from rft_schemas.topics import CategorizationMethod, CategorizedPrompt, HierarchySource
from tests.categorizer.conftest import sanitized


@pytest.fixture
def support():
    return load_template("customer_support", dataset="acme")


def test_four_industry_templates_ship_with_descriptions_and_examples():
    names = template_names()
    assert {"customer_support", "coding_agent", "data_analytics", "travel_booking"} <= set(names)
    for name in names:
        hierarchy = load_template(name, dataset="d")
        assert hierarchy.source is HierarchySource.TEMPLATE and hierarchy.template == name
        assert hierarchy.version == 1
        leaves = leaf_paths(hierarchy)
        assert len(leaves) >= 6
        for path in leaves:
            leaf = find_topic(hierarchy, path)
            assert leaf.description and len(leaf.examples) >= 3


def test_each_edit_returns_a_new_version_and_leaves_the_input_alone(support):
    edited = add_topic(support, ["billing"], "disputes", "Chargebacks.", ["I disputed a charge"])
    assert edited.version == support.version + 1
    assert "disputes" not in [t.name for t in find_topic(support, ["billing"]).children]
    assert find_topic(edited, ["billing", "disputes"]).examples == ["I disputed a charge"]

    renamed = rename_topic(edited, ["billing", "disputes"], "chargebacks")
    described = describe_topic(renamed, ["billing", "chargebacks"], description="Disputed charges.")
    moved = move_topic(described, ["billing", "chargebacks"], ["orders"], position=0)
    reordered = reorder_topics(moved, [], ["orders", "billing", "account", "subscription",
                                           "technical_support"])
    deleted = delete_topic(reordered, ["subscription"])
    assert [h.version for h in (renamed, described, moved, reordered, deleted)] == [3, 4, 5, 6, 7]
    assert find_topic(deleted, ["orders"]).children[0].description == "Disputed charges."
    assert [t.name for t in deleted.topics] == ["orders", "billing", "account", "technical_support"]


def test_names_stay_unique_per_parent(support):
    with pytest.raises(HierarchyEditError) as refused:
        add_topic(support, ["billing"], "refunds")
    assert refused.value.reason is EditRefusal.DUPLICATE_NAME
    with pytest.raises(HierarchyEditError):
        rename_topic(support, ["billing", "refunds"], "invoices")
    # the same name under another parent is allowed, but not moved beside its namesake
    with_two = add_topic(support, ["orders"], "refunds")
    assert with_two.version == 2
    with pytest.raises(HierarchyEditError) as refused:
        move_topic(with_two, ["orders", "refunds"], ["billing"])
    assert refused.value.reason is EditRefusal.DUPLICATE_NAME


def test_moving_a_topic_under_its_own_subtree_is_a_cycle(support):
    with pytest.raises(HierarchyEditError) as refused:
        move_topic(support, ["billing"], ["billing", "refunds"])
    assert refused.value.reason is EditRefusal.CYCLE
    with pytest.raises(HierarchyEditError):
        move_topic(support, ["billing"], ["billing"])


def test_bad_names_orders_and_paths_are_refused(support):
    with pytest.raises(HierarchyEditError) as refused:
        add_topic(support, [], "Billing Issues")
    assert refused.value.reason is EditRefusal.INVALID_NAME
    with pytest.raises(HierarchyEditError) as refused:
        reorder_topics(support, ["billing"], ["refunds", "invoices"])
    assert refused.value.reason is EditRefusal.BAD_ORDER
    with pytest.raises(HierarchyEditError) as refused:
        delete_topic(support, ["billing", "nope"])
    assert refused.value.reason is EditRefusal.NOT_FOUND


def test_delete_keeping_children_promotes_them_in_place(support):
    edited = delete_topic(support, ["subscription"], keep_children=True)
    assert [t.name for t in edited.topics][2:4] == ["plan_changes", "cancellation"]


def test_hand_written_hierarchy_file_loads_with_names_made_snake_case():
    text = json.dumps(
        {
            "topics": [
                {"name": "Billing Issues", "description": "Money.", "children": [
                    {"name": "Refunds", "examples": ["I want my money back"]},
                    "Invoices",
                ]},
                {"name": "Shipping", "examples": ["where is my parcel"]},
            ]
        }
    )
    hierarchy = parse_hierarchy_file(text, dataset="shop")
    assert hierarchy.dataset == "shop" and hierarchy.source is HierarchySource.MANUAL
    assert leaf_paths(hierarchy) == [
        ("billing_issues", "refunds"),
        ("billing_issues", "invoices"),
        ("shipping",),
    ]
    # a bare list of topics works too, and a whole exported hierarchy round-trips
    assert parse_hierarchy_file(json.dumps(["a", "b"]), "d").topics[1].name == "b"
    again = parse_hierarchy_file(hierarchy.model_dump_json(), "shop")
    assert again.topics == hierarchy.topics


def test_hand_written_file_with_duplicates_lists_every_problem():
    text = json.dumps([
        {"name": "refunds"},
        {"name": "Refunds"},
        {"name": "x", "children": [{"name": "a"}, {"name": "a"}], "examples": "not a list"},
        {"name": "!!!"},
    ])
    with pytest.raises(HierarchyFileError) as refused:
        parse_hierarchy_file(text, "d")
    problems = refused.value.problems
    assert len(problems) == 4
    assert any("refunds" in p for p in problems) and any("'a'" in p for p in problems)
    with pytest.raises(HierarchyFileError):
        parse_hierarchy_file("{not json", "d")


def test_apply_edit_is_the_one_dispatch_of_the_api_and_the_cli(support):
    added = apply_edit(support, "add", ["billing"], name="disputes", examples=["A chargeback"])
    assert [t.name for t in find_topic(added, ["billing"]).children][-1] == "disputes"
    moved = apply_edit(added, "move", ["billing", "disputes"], new_parent=[], position=0)
    assert moved.topics[0].name == "disputes" and moved.version == support.version + 2
    for op, argument in (("add", "name"), ("rename", "name"), ("move", "new_parent"),
                         ("reorder", "order")):
        with pytest.raises(MissingEditArgument) as missing:
            apply_edit(support, op, ["billing"])
        assert (missing.value.op, missing.value.argument) == (op, argument)
    with pytest.raises(ValueError, match="unknown edit"):
        apply_edit(support, "merge", ["billing"])


def test_a_manual_topic_is_a_leaf_or_other(support):
    record = CategorizedPrompt(prompt=sanitized("p1", "where is my refund?"),
                               topic_path=["orders", "returns"], confidence=0.3,
                               method=CategorizationMethod.EMBEDDING,
                               needs_review=True, hierarchy_version=0)
    decided = decide_topic(record, support, ["billing", "refunds"])
    assert decided.method is CategorizationMethod.MANUAL and decided.confidence == 1.0
    assert not decided.needs_review and decided.hierarchy_version == support.version
    assert decide_topic(record, support, ["other"]).uncategorized
    with pytest.raises(ValueError, match="has subtopics"):
        decide_topic(record, support, ["billing"])
    with pytest.raises(HierarchyEditError):
        decide_topic(record, support, ["billing", "nope"])
