"""make synth's compliance report: counts per pack and every acknowledgement with its reason."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.compliance_packs import PACK_CLASS_PATHS, pack_class, selected
from stacks.compliance_report import acknowledgements, rule_count, summarise
from tests.helpers import new_app, synth_bundled_app


@pytest.fixture(scope="module")
def report() -> tuple[str, Path, Path]:
    """What `make synth` prints and writes: the app's own synth, with the report."""
    from app import synth_app

    assembly, (table, path) = synth_app(new_app(), report=True)
    return table, path, Path(assembly.directory)


def test_the_report_changes_nothing_in_the_templates(report) -> None:
    _, _, outdir = report
    (stack,) = synth_bundled_app().stacks
    assert json.loads((outdir / stack.template_file).read_text()) == stack.template


def rows(table: str) -> dict[str, list[int]]:
    return {line.split()[0]: [int(n) for n in line.split()[1:]] for line in table.splitlines()[2:]}


def test_every_pack_has_a_row_and_nothing_failed(report) -> None:
    table, _, _ = report
    counted = rows(table)
    assert set(counted) == set(PACK_CLASS_PATHS)
    for pack, (evaluated, passed, acknowledged, failed) in counted.items():
        assert failed == 0, pack
        assert evaluated == passed + acknowledged, pack


def test_rule_counts_are_the_packs_own(report) -> None:
    counted = rows(report[0])
    assert counted["AwsSolutions"][0] == rule_count(pack_class("AwsSolutions")) > 100
    assert counted["EnvelopeEncryption"][0] == len(pack_class("EnvelopeEncryption")().rule_ids)


def test_acknowledged_rules_match_the_acknowledgements_in_the_template(report) -> None:
    table, _, outdir = report
    acknowledged_ids = {row["id"].split("[", 1)[0] for row in acknowledgements(outdir) if row["kind"] == "cdk-nag"}
    assert {"AwsSolutions-IAM4", "AwsSolutions-IAM5", "Serverless-LambdaDLQ"} <= acknowledged_ids
    assert rows(table)["AwsSolutions"][2] == len({i for i in acknowledged_ids if i.startswith("AwsSolutions-")})


def test_markdown_lists_every_acknowledgement_with_its_reason(report) -> None:
    _, path, outdir = report
    markdown = path.read_text()
    for row in acknowledgements(outdir):
        assert f"`{row['id']}`" in markdown
        assert row["reason"].replace("|", "/") in markdown
        assert len(row["reason"]) >= 40, f"{row['id']} on {row['resource']} has no specific reason"


def test_fails_counted_from_the_validation_report(tmp_path: Path) -> None:
    (tmp_path / "validation-report.json").write_text(json.dumps({"pluginReports": [{"violations": [
        {"ruleName": "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]", "severity": "error"},
    ]}]}))
    (summary,) = summarise(selected(["AwsSolutions"]), {"AwsSolutions": {"AwsSolutions-IAM4": 2, "AwsSolutions-KMS5": 1}}, tmp_path)
    assert (summary.failed, summary.acknowledged, summary.acknowledged_findings) == (1, 1, 1)
    assert summary.passed == summary.evaluated - 2


def test_compliance_doc_shows_the_table_make_synth_prints(report) -> None:
    # One source per fact: docs/compliance.md's example of `make synth`'s table is the table itself.
    readme = (Path(__file__).resolve().parents[1] / "docs" / "compliance.md").read_text()
    assert report[0].strip() in readme, f"update docs/compliance.md's compliance table to:\n{report[0]}"


def test_held_acknowledgements_reach_their_constructs_when_the_block_ends() -> None:
    import aws_cdk as cdk

    from eks_envelope.acknowledgements import acknowledge, held_acknowledgements

    key = "aws:cdk:acknowledged-rules"
    # {qualified id: reason} entries, by unqualified id (aws-cdk-lib prefixes the id with its namespace)
    recorded = lambda node: [{k.split("::")[-1]: v for k, v in m.data.items()} for m in node.node.metadata  # noqa: E731
                             if m.type == key]
    stack = cdk.Stack(new_app(), "Held")
    first, second = cdk.CfnWaitConditionHandle(stack, "First"), cdk.CfnWaitConditionHandle(stack, "Second")
    reason = "a reason long enough to be checked by a reviewer"
    with pytest.raises(RuntimeError), held_acknowledgements():
        acknowledge(first, "AwsSolutions-IAM4", reason)
        acknowledge(second, "AwsSolutions-IAM5", reason)
        assert recorded(first) == recorded(second) == []  # held while packs count
        raise RuntimeError("a failed build still loses no acknowledgement")
    assert recorded(first) == [{"AwsSolutions-IAM4": reason}]
    assert recorded(second) == [{"AwsSolutions-IAM5": reason}]
