"""The cost model: prices only from prices.json, quantities from the stack templates."""

from __future__ import annotations

import copy
import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from lambdas.shared.endpoint_policy import SCALE_TO_ZERO, SCHEDULE, EndpointPolicy
from localcloud import cli, costs
from localcloud.cloud import REPO_ROOT
from localcloud.prices import PRICES_FILE, PriceListError, load, parse
from localcloud.services.comprehend.engine import UsageMeter as ComprehendUsage
from localcloud.services.translate.engine import UsageMeter as TranslateUsage

SECONDS_PER_MONTH = 730 * 3600


def _function(memory: int, environment: dict[str, str] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"MemorySize": memory, "Architectures": ["arm64"]}
    if environment:
        properties["Environment"] = {"Variables": environment}
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


def _state_machine(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"DefinitionString": json.dumps(definition)},
    }


def _alarm() -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {}}


def _policy(*endpoints: str) -> dict[str, Any]:
    arns = [f"arn:aws:comprehend:us-east-1:1:document-classifier-endpoint/{e}" for e in endpoints]
    return {"Type": "AWS::IAM::Policy", "Properties": {"Resource": arns}}


def templates(units: int = 1, targets: str = "es,fr") -> dict[str, dict[str, Any]]:
    """Small templates with what the model reads from each stack."""
    return {
        "caption_translation": {
            "Resources": {
                "StartBatchFunction1": _function(256, {"TARGET_LANGUAGES": targets}),
                "A1": _alarm(),
            }
        },
        "custom_labels_batch": {
            "Resources": {"Workflow": _state_machine({"Parameters": {"MinInferenceUnits": 1}})}
        },
        "comprehend_model_lifecycle": {
            "Resources": {
                "Workflow": _state_machine({"Parameters": {"DesiredInferenceUnits": units}}),
                "Policy": _policy("cml-endpoint"),
            }
        },
        "comprehend_feedback_loop": {
            "Resources": {"ApiHandlerFunction1": _function(256), "Policy": _policy("cml-endpoint")}
        },
        "ticket_classification": {
            "Resources": {
                "TicketClassifierFunction1": _function(512),
                "Workflow": _state_machine({"Parameters": {"DesiredInferenceUnits": units}}),
                "Policy": _policy("tickets-operation", "tickets-resource"),
                "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
                "Workgroup": {
                    "Type": "AWS::RedshiftServerless::Workgroup",
                    "Properties": {"BaseCapacity": 8},
                },
            }
        },
        "glue_ml_pipeline": {
            "Resources": {
                "TrainingJob": {
                    "Type": "AWS::Glue::Job",
                    "Properties": {
                        "Command": {"Name": "pythonshell"},
                        "MaxCapacity": 0.0625,
                        "DefaultArguments": {
                            "--TRAINING_INSTANCE_TYPE": "ml.c5.xlarge",
                            "--INFERENCE_INSTANCE_TYPE": "ml.m5.large",
                            "--ENDPOINT_NAME": "gmp-endpoint",
                        },
                    },
                },
                "DataProcessingJob": {
                    "Type": "AWS::Glue::Job",
                    "Properties": {
                        "Command": {"Name": "glueetl"},
                        "WorkerType": "G.1X",
                        "NumberOfWorkers": 2,
                    },
                },
            }
        },
    }


def _prices_with(path: tuple[str, ...], value: Any = None, *, drop: bool = False):
    document = copy.deepcopy(json.loads(PRICES_FILE.read_text(encoding="utf-8")))
    target = document
    for key in path[:-1]:
        target = target[key]
    if drop:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return parse(document)


def _rate(workflow: costs.WorkflowCost, unit: str) -> float:
    return next(item.usd for item in workflow.items if item.unit == unit)


def test_translation_per_item_is_characters_times_the_translate_price():
    per_character = load().usd("translate.characterRealtime")
    cost = costs.workflow_cost("caption_translation", templates(targets="es,fr,de"))
    assumed = costs.Assumptions().caption_characters_per_minute
    assert _rate(cost, "caption minute") == pytest.approx(assumed * 3 * per_character)
    assert _rate(cost, "1,000 characters per target language") == pytest.approx(
        1000 * per_character
    )
    assert cost.fixed_usd == pytest.approx(load().usd("cloudwatch.standardAlarmMonth"))


def test_a_changed_price_changes_the_report():
    before = costs.report(templates(), "dev")
    dearer = _prices_with(("services", "translate", "prices", "characterRealtime", "usd"), 30e-6)
    with pytest.raises(costs.CostModelError, match="differ"):
        costs.report(templates(), "dev", prices=dearer)
    document = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    for name in ("characterRealtime", "characterBatch"):
        document["services"]["translate"]["prices"][name]["usd"] = 30e-6
    both = parse(document)
    after = costs.report(templates(), "dev", prices=both)
    assert after.workflows[0].items[0].usd == pytest.approx(2 * before.workflows[0].items[0].usd)
    assert after.markdown() != before.markdown()
    assert after.workflows[1:] == before.workflows[1:]


def test_endpoint_fixed_cost_follows_the_inference_units_in_the_template():
    per_second = load().usd("comprehend.customEndpointInferenceUnitSecond")
    one = costs.workflow_cost("ticket_classification", templates(units=1))
    two = costs.workflow_cost("ticket_classification", templates(units=2))
    endpoints = [c for c in one.fixed if "endpoint" in c.what]
    assert endpoints[0].usd == pytest.approx(2 * per_second * SECONDS_PER_MONTH)
    assert two.fixed_usd - one.fixed_usd == pytest.approx(2 * per_second * SECONDS_PER_MONTH)
    assert any(c.service == "secretsmanager" for c in one.fixed)


def _with_keeper(policy: EndpointPolicy) -> dict[str, dict[str, Any]]:
    stacks = templates()
    resources = stacks["ticket_classification"]["Resources"]
    resources["KeeperFunction1"] = _function(256, {"ENDPOINT_POLICY": policy.as_json()})
    return stacks


def test_scale_to_zero_endpoints_bill_nothing_idle_but_each_serving_hour():
    per_second = load().usd("comprehend.customEndpointInferenceUnitSecond")
    kept = costs.workflow_cost(
        "ticket_classification", _with_keeper(EndpointPolicy.parse(SCALE_TO_ZERO))
    )
    assert not any("inference unit" in c.what for c in kept.fixed)
    assert any(c.what.startswith("custom model management") for c in kept.fixed)
    hour = _rate(kept, "hour the endpoints serve on demand")
    assert hour == pytest.approx(2 * per_second * 3600)
    assert any("after at most 15 idle minutes" in a for a in kept.assumptions)
    quick = costs.workflow_cost(
        "ticket_classification", _with_keeper(EndpointPolicy.parse(SCALE_TO_ZERO, idle_minutes=0))
    )
    assert any("deleted 15 s after the last call" in a for a in quick.assumptions)
    assert _rate(quick, "hour the endpoints serve on demand") == pytest.approx(hour)


def test_a_business_hours_schedule_bills_those_hours_each_month():
    per_second = load().usd("comprehend.customEndpointInferenceUnitSecond")
    policy = EndpointPolicy.parse(SCHEDULE, days="MON-FRI", start_hour=9, end_hour=17)
    kept = costs.workflow_cost("ticket_classification", _with_keeper(policy))
    (endpoints,) = [c for c in kept.fixed if "inference unit" in c.what]
    assert "40 hours a week" in endpoints.what
    assert endpoints.usd == pytest.approx(2 * per_second * 3600 * 40 * 730 / 168)


def test_a_serverless_pipeline_endpoint_has_no_fixed_cost():
    stacks = templates()
    job = stacks["glue_ml_pipeline"]["Resources"]["TrainingJob"]["Properties"]
    job["DefaultArguments"]["--SERVERLESS_MEMORY_MIB"] = "2048"
    serverless = costs.workflow_cost("glue_ml_pipeline", stacks)
    assert not any(c.service == "sagemaker" for c in serverless.fixed)
    assert any("serverless (2048 MB" in a for a in serverless.assumptions)
    instance = costs.workflow_cost("glue_ml_pipeline", templates())
    assert any(c.service == "sagemaker" for c in instance.fixed)


def test_an_endpoint_shared_with_another_stack_is_counted_once():
    report = costs.report(templates(), "dev")
    by_slug = {w.workflow: w for w in report.workflows}
    assert any("endpoint" in c.what for c in by_slug["comprehend_model_lifecycle"].fixed)
    assert not any("endpoint" in c.what for c in by_slug["comprehend_feedback_loop"].fixed)
    assert any("cml-endpoint" in a for a in by_slug["comprehend_feedback_loop"].assumptions)


def test_unknown_workflow_is_a_clear_error():
    with pytest.raises(costs.CostModelError, match="unknown workflow 'captions'"):
        costs.workflow_cost("captions", templates())


def test_missing_price_names_the_workflow_and_the_price():
    prices = _prices_with(("services", "sagemaker", "prices", "hostingHour.ml.m5.large"), drop=True)
    with pytest.raises(costs.CostModelError, match=r"glue_ml_pipeline: .*hostingHour\.ml\.m5"):
        costs.report(templates(), "dev", prices=prices)


def test_missing_quantity_in_a_template_is_a_clear_error():
    broken = templates()
    broken["custom_labels_batch"] = {"Resources": {}}
    with pytest.raises(costs.CostModelError, match="MinInferenceUnits"):
        costs.workflow_cost("custom_labels_batch", broken)


def test_run_cost_prices_metered_usage_per_service():
    prices = load()
    result = costs.run_cost(
        {"translate.characterRealtime": 10_000, "rekognition.customLabelsInferenceUnitHour": 0.5}
    )
    translate = result["byService"]["translate"]
    assert translate["usd"] == pytest.approx(10_000 * prices.usd("translate.characterRealtime"))
    assert translate["items"]["characterRealtime"]["unit"] == "character"
    assert result["usd"] == pytest.approx(0.15 + 2.0)
    assert result["pricesAsOf"] == prices.as_of
    with pytest.raises(PriceListError, match="no price"):
        costs.run_cost({"translate.neural": 1})


def _cloud_with_meters() -> SimpleNamespace:
    translate = TranslateUsage()
    translate.record("TranslateText", 1200, batch=False)
    translate.record("StartTextTranslationJob", 800, batch=True)
    comprehend = ComprehendUsage()
    comprehend.record_training(1800)
    comprehend.record_inference_units(600)
    comprehend.record_async_documents([50, 1050])  # 3 units (the minimum) + 11 units
    loops = {
        "a": SimpleNamespace(status="Completed"),
        "b": SimpleNamespace(status="InProgress"),
        "c": SimpleNamespace(status="Completed"),
    }
    return SimpleNamespace(
        engines={
            "translate": SimpleNamespace(usage=translate),
            "comprehend": SimpleNamespace(usage=comprehend, poll=lambda: None),
            "sagemaker-a2i-runtime": SimpleNamespace(
                state=SimpleNamespace(lock=threading.Lock(), loops=loops)
            ),
        }
    )


def test_local_run_cost_prices_what_the_engines_metered():
    prices = load()
    cost = costs.local_run_cost(_cloud_with_meters())
    by_service = cost["byService"]
    assert by_service["translate"]["usd"] == pytest.approx(2000 * 15e-6)
    assert by_service["comprehend"]["items"]["customTrainingHour"]["quantity"] == 0.5
    assert by_service["comprehend"]["items"]["customAsyncUnit"]["quantity"] == 14
    assert by_service["comprehend"]["usd"] == pytest.approx(
        0.5 * prices.usd("comprehend.customTrainingHour")
        + 600 * prices.usd("comprehend.customEndpointInferenceUnitSecond")
        + 14 * prices.usd("comprehend.customAsyncUnit")
    )
    assert by_service["a2i"]["items"]["objectReviewed"]["quantity"] == 2
    assert cost["usd"] == pytest.approx(sum(s["usd"] for s in by_service.values()))
    assert "Lambda" in cost["notMetered"]


def test_local_run_cost_leaves_out_what_the_workflow_does_not_incur():
    cost = costs.local_run_cost(
        _cloud_with_meters(), leave_out={"comprehend.customTrainingHour": "set-up only"}
    )
    assert "customTrainingHour" not in cost["byService"]["comprehend"]["items"]
    assert cost["leftOut"] == {"comprehend.customTrainingHour": "set-up only"}


def test_cost_command_prints_the_table_with_the_price_date_and_region(monkeypatch, capsys):
    monkeypatch.setattr(costs, "synthesized_templates", lambda stage, root: templates())
    assert cli.main(["cost", "--stage", "dev"]) == 0
    table = capsys.readouterr().out
    prices = load()
    assert prices.as_of in table and prices.region in table
    for slug in costs.WORKFLOWS:
        assert slug in table
    assert cli.main(["cost", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [w["workflow"] for w in document["workflows"]] == list(costs.WORKFLOWS)


def test_readme_costs_section_is_what_the_model_generates_now():
    model = costs.report(costs.synthesized_templates("dev", REPO_ROOT), "dev")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert costs.readme_section(readme) == model.markdown(), (
        "README's Costs section is out of date: run `python -m localcloud cost --update-readme`"
    )


def test_readme_section_replacement_keeps_the_rest():
    text = f"a\n{costs.README_BEGIN}\nold\n{costs.README_END}\nb\n"
    assert costs.with_readme_section(text, "new") == (
        f"a\n{costs.README_BEGIN}\nnew\n{costs.README_END}\nb\n"
    )
    with pytest.raises(costs.CostModelError, match="exactly one"):
        costs.readme_section("no markers")


def _provisioned(node_type: str, nodes: int) -> dict[str, dict[str, Any]]:
    provisioned = templates()
    resources = provisioned["ticket_classification"]["Resources"]
    del resources["Workgroup"]
    resources["Cluster"] = {
        "Type": "AWS::Redshift::Cluster",
        "Properties": {"NodeType": node_type, "NumberOfNodes": nodes},
    }
    return provisioned


def test_a_provisioned_warehouse_bills_its_nodes_every_hour():
    cost = costs.workflow_cost("ticket_classification", _provisioned("ra3.xlplus", 2))
    cluster = next(c for c in cost.fixed if c.service == "redshift")
    assert cluster.usd == pytest.approx(2 * load().usd("redshift.nodeHour.ra3.xlplus") * 730)
    assert not any("COPY" in item.unit for item in cost.items)
    with pytest.raises(costs.CostModelError, match=r"nodeHour\.ra3\.4xlarge"):
        costs.workflow_cost("ticket_classification", _provisioned("ra3.4xlarge", 2))


def test_update_readme_writes_the_section_the_markdown_option_prints(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(costs, "synthesized_templates", lambda stage, root: templates())
    monkeypatch.setattr(cli, "REPO_ROOT", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{costs.README_BEGIN}\nstale\n{costs.README_END}\n", encoding="utf-8")
    assert cli.main(["cost", "--markdown"]) == 0
    markdown = capsys.readouterr().out.strip()
    assert cli.main(["cost", "--update-readme"]) == 0
    assert costs.readme_section(readme.read_text(encoding="utf-8")) == markdown
    assert readme.read_text(encoding="utf-8").startswith("# x\n")
