"""What each workflow costs on AWS: the fixed monthly bill while idle and the cost per item.

Prices come only from `prices.json` (through `localcloud.prices`); quantities come from the
synthesized stack templates (alarms, secrets, warehouses, endpoint names, inference units,
instance types, Glue job capacities, Lambda memory), so a changed setting changes the report.
Where a quantity is not in the template (how many characters a caption minute holds, how long a
Lambda invocation runs, how long training takes), the report names the assumption it made.

Not counted anywhere: S3 storage and requests, CloudWatch Logs, X-Ray, Step Functions state
transitions and data transfer. They grow with use and are small next to the items counted, but
they are not zero.

`run_cost` prices what a local run metered (the engines' usage meters) the same way.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdas.shared.endpoint_policy import ALWAYS_ON, QUIET_SECONDS, SCHEDULE, EndpointPolicy
from localcloud.prices import PriceList, PriceListError, load
from stacks import WORKFLOWS

HOURS_PER_MONTH = 730  # the month AWS's pricing pages and calculator use
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
# DPUs per worker of each Glue worker type (AWS Glue pricing page, "worker types").
GLUE_WORKER_DPUS = {"G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0,
                    "Standard": 1.0}  # fmt: skip
FIREHOSE_RECORD_BYTES = 5 * 1024  # Direct PUT rounds every record up to the next 5 KB
REDSHIFT_MINIMUM_SECONDS = 60  # Redshift Serverless bills at least 60 seconds per query run


class CostModelError(ValueError):
    """The model cannot price a workflow: unknown workflow or a template lacking what it needs."""


@dataclass(frozen=True)
class Assumptions:
    """What the templates cannot say; every one is printed with the report."""

    caption_characters_per_minute: int = 900  # 15 characters a second: a usual reading speed
    lambda_seconds_per_invocation: float = 0.1
    images_per_inference_unit_second: float = 5.0  # the local Rekognition engine's throughput


@dataclass(frozen=True)
class Charge:
    service: str
    what: str
    usd: float

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "what": self.what, "usd": self.usd}


@dataclass(frozen=True)
class ItemRate:
    unit: str
    charges: tuple[Charge, ...]

    @property
    def usd(self) -> float:
        return sum(charge.usd for charge in self.charges)

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "usd": self.usd,
            "charges": [charge.as_dict() for charge in self.charges],
        }


@dataclass(frozen=True)
class WorkflowCost:
    workflow: str
    stack: str
    fixed: tuple[Charge, ...]  # per month, whether or not anything arrives
    items: tuple[ItemRate, ...]
    assumptions: tuple[str, ...]

    @property
    def fixed_usd(self) -> float:
        return sum(charge.usd for charge in self.fixed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "stack": self.stack,
            "fixedUsdPerMonth": self.fixed_usd,
            "fixed": [charge.as_dict() for charge in self.fixed],
            "perItem": [item.as_dict() for item in self.items],
            "assumptions": list(self.assumptions),
        }


@dataclass(frozen=True)
class CostReport:
    stage: str
    as_of: str
    region: str
    workflows: tuple[WorkflowCost, ...]
    assumptions: Assumptions = field(default_factory=Assumptions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "pricesAsOf": self.as_of,
            "region": self.region,
            "hoursPerMonth": HOURS_PER_MONTH,
            "workflows": [workflow.as_dict() for workflow in self.workflows],
        }

    def table(self) -> str:
        rows = [("workflow", "fixed USD/month", "per item (USD)")]
        for workflow in self.workflows:
            items = [f"{usd(item.usd)} per {item.unit}" for item in workflow.items]
            rows.append(
                (workflow.workflow, f"{workflow.fixed_usd:,.2f}", items[0] if items else "")
            )
            rows.extend(("", "", item) for item in items[1:])
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [
            f"Cost per workflow, stage {self.stage}: AWS list prices for {self.region} as of "
            f"{self.as_of} (localcloud/prices.json), {HOURS_PER_MONTH} hours a month",
            "",
        ]
        for number, row in enumerate(rows):
            lines.append(
                f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}".rstrip()
            )
            if number == 0:
                lines.append("  ".join("-" * width for width in widths))
        for workflow in self.workflows:
            lines += ["", f"{workflow.workflow} ({workflow.stack}):"]
            lines += [f"  fixed: {c.what}: USD {c.usd:,.2f}/month" for c in workflow.fixed]
            lines += [f"  assumes: {text}" for text in workflow.assumptions]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [
            f"AWS list prices for {self.region} as of {self.as_of} "
            "([localcloud/prices.json](localcloud/prices.json), each price with its AWS pricing "
            f"page), stage `{self.stage}` with the settings in `cdk.json`, "
            f"{HOURS_PER_MONTH} hours a month. Regenerate with `python -m localcloud cost "
            "--update-readme`; a test fails when this section is out of date.",
            "",
            "| workflow | fixed USD/month (while idle) | per item |",
            "|---|---:|---|",
        ]
        for workflow in self.workflows:
            items = "<br>".join(f"USD {usd(item.usd)} per {item.unit}" for item in workflow.items)
            lines.append(f"| {workflow.workflow} | {workflow.fixed_usd:,.2f} | {items} |")
        lines.append("")
        for workflow in self.workflows:
            lines.append(f"- **{workflow.workflow}**:")
            for charge in workflow.fixed:
                lines.append(f"  fixed: {charge.what}, USD {charge.usd:,.2f}/month;")
            for text in workflow.assumptions:
                lines.append(f"  {text};")
            lines[-1] = lines[-1].rstrip(";") + "."
        lines += [
            "",
            "Not counted: S3 storage and requests, CloudWatch Logs, X-Ray, Step Functions state "
            "transitions, data transfer.",
        ]
        return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def usd(amount: float) -> str:
    """Three significant digits for small amounts, cents for large ones."""
    if amount == 0:
        return "0"
    if amount >= 1:
        return f"{amount:,.2f}"
    decimals = max(2, 2 - math.floor(math.log10(amount)))
    return f"{amount:.{decimals}f}"


# --- Reading a template -----------------------------------------------------------------------


class Template:
    """The quantities the cost model reads from one synthesized stack template."""

    def __init__(self, name: str, document: Mapping[str, Any]) -> None:
        self.name = name
        self.resources: dict[str, Any] = dict(document.get("Resources", {}))
        self.text = json.dumps(document)

    def of_type(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical_id, resource.get("Properties", {}))
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == resource_type
        ]

    def count(self, resource_type: str) -> int:
        return len(self.of_type(resource_type))

    def comprehend_endpoints(self) -> list[str]:
        """Names of the Comprehend endpoints the stack's policies or definitions name."""
        return sorted(set(re.findall(r"document-classifier-endpoint/([A-Za-z0-9-]+)", self.text)))

    def number_after(self, key: str) -> int:
        """The one integer given for `key` in the template (state machine definitions too)."""
        found = set(re.findall(rf'{key}\\*"\s*:\s*(\d+)', self.text))
        if len(found) != 1:
            raise CostModelError(f"{self.name}: expected one value of {key}, found {sorted(found)}")
        return int(found.pop())

    def function(self, prefix: str) -> tuple[int, str]:
        """Memory (MB) and architecture of the Lambda function whose logical id starts so."""
        for logical_id, properties in self.of_type("AWS::Lambda::Function"):
            if logical_id.startswith(prefix):
                return int(properties.get("MemorySize", 128)), properties.get(
                    "Architectures", ["x86_64"]
                )[0]
        raise CostModelError(f"{self.name}: no Lambda function {prefix}*")

    def environment(self, name: str) -> str:
        for _, properties in self.of_type("AWS::Lambda::Function"):
            value = properties.get("Environment", {}).get("Variables", {}).get(name)
            if isinstance(value, str):
                return value
        raise CostModelError(f"{self.name}: no Lambda function sets {name}")

    def endpoint_policy(self) -> EndpointPolicy | None:
        """The lifecycle policy the stack's endpoint keeper applies, if it has one."""
        for _, properties in self.of_type("AWS::Lambda::Function"):
            value = properties.get("Environment", {}).get("Variables", {}).get("ENDPOINT_POLICY")
            if isinstance(value, str):
                return EndpointPolicy.from_json(value)
        return None

    def glue_argument(self, name: str) -> str:
        for _, properties in self.of_type("AWS::Glue::Job"):
            value = properties.get("DefaultArguments", {}).get(f"--{name}")
            if isinstance(value, str):
                return value
        raise CostModelError(f"{self.name}: no Glue job has the argument --{name}")


# --- Charges common to every stack ------------------------------------------------------------


def _common_fixed(template: Template, prices: PriceList) -> list[Charge]:
    charges = []
    alarms = template.count("AWS::CloudWatch::Alarm")
    if alarms:
        price = prices.usd("cloudwatch.standardAlarmMonth")
        charges.append(Charge("cloudwatch", plural(alarms, "alarm"), alarms * price))
    keys = template.count("AWS::KMS::Key")
    if keys:
        price = prices.usd("kms.customerManagedKeyMonth")
        charges.append(Charge("kms", plural(keys, "customer managed KMS key"), keys * price))
    secrets = template.count("AWS::SecretsManager::Secret")
    if secrets:
        price = prices.usd("secretsmanager.secretMonth")
        charges.append(Charge("secretsmanager", plural(secrets, "secret"), secrets * price))
    for _, cluster in template.of_type("AWS::Redshift::Cluster"):
        node_type = cluster.get("NodeType", "")
        nodes = int(cluster.get("NumberOfNodes", 1))
        hourly = prices.usd(f"redshift.nodeHour.{node_type}")
        charges.append(
            Charge(
                "redshift",
                f"provisioned cluster, {nodes} x {node_type} always running",
                nodes * hourly * HOURS_PER_MONTH,
            )
        )
    return charges


def _endpoints_fixed(
    template: Template, names: list[str], prices: PriceList
) -> tuple[list[Charge], list[str], list[ItemRate]]:
    """The endpoints' fixed monthly cost under the stack's lifecycle policy, notes, and what
    an hour of serving costs where the endpoints exist only on demand."""
    if not names:
        return [], [], []
    units = template.number_after("DesiredInferenceUnits")
    per_second = prices.usd("comprehend.customEndpointInferenceUnitSecond")
    policy = template.endpoint_policy() or EndpointPolicy(ALWAYS_ON)
    endpoints = f"{plural(len(names), 'custom classifier endpoint')} ({', '.join(names)}) with "
    endpoints += f"{plural(units, 'inference unit')} each"
    management = Charge(
        "comprehend",
        f"custom model management, {plural(len(names), 'model')} in service",
        len(names) * prices.usd("comprehend.customModelMonth"),
    )
    billing = (
        "each endpoint bills per inference-unit-second from creation until it is deleted, "
        "whether or not it is called; requests to it add nothing"
    )
    if policy.mode == ALWAYS_ON:
        month = Charge(
            "comprehend",
            f"{endpoints}, provisioned all month (endpointPolicy always-on)",
            len(names) * units * per_second * SECONDS_PER_MONTH,
        )
        return [month, management], [billing], []
    hour = ItemRate(
        "hour the endpoints serve on demand",
        (Charge("comprehend", endpoints, len(names) * units * per_second * 3600),),
    )
    linger = (
        f"{QUIET_SECONDS:g} s after the last call (idleMinutes 0)"
        if policy.cost_first
        else f"after at most {policy.idle_minutes} idle minutes (fewer when the callers' "
        "pauses are long)"
    )
    on_demand = (
        f"deleted {linger} and recreated on demand, so idle hours bill nothing; each "
        "recreation bills its creation time, and the first request waits for it"
    )
    if policy.mode == SCHEDULE:
        hours = policy.hours
        weekly = len(hours.days) * (hours.end_hour - hours.start_hour)
        month = Charge(
            "comprehend",
            f"{endpoints}, in service {weekly} hours a week (endpointPolicy schedule, "
            f"{hours.start_hour:02d}:00-{hours.end_hour:02d}:00 {hours.time_zone})",
            len(names) * units * per_second * 3600 * weekly * HOURS_PER_MONTH / 168,
        )
        return [month, management], [billing, f"outside business hours: {on_demand}"], [hour]
    return [management], [billing, f"endpointPolicy scale-to-zero: {on_demand}"], [hour]


def _lambda_invocation(
    template: Template, prefix: str, prices: PriceList, a: Assumptions
) -> Charge:
    memory, architecture = template.function(prefix)
    per_gb_second = prices.usd(
        "lambda.gbSecondArm" if architecture == "arm64" else "lambda.gbSecondX86"
    )
    compute = memory / 1024 * a.lambda_seconds_per_invocation * per_gb_second
    return Charge(
        "lambda",
        f"{prefix} invocation ({memory} MB, {architecture})",
        compute + prices.usd("lambda.request"),
    )


# --- The workflows ----------------------------------------------------------------------------

Builder = Callable[[Template, Mapping[str, Template], PriceList, Assumptions], WorkflowCost]


def _caption_translation(
    t: Template, others: Mapping[str, Template], prices: PriceList, a: Assumptions
) -> WorkflowCost:
    targets = [code for code in t.environment("TARGET_LANGUAGES").split(",") if code]
    per_character = prices.usd("translate.characterRealtime")
    if prices.usd("translate.characterBatch") != per_character:
        raise CostModelError("real-time and batch translation prices differ: price them apart")
    minute = a.caption_characters_per_minute * len(targets) * per_character
    return WorkflowCost(
        "caption_translation",
        t.name,
        tuple(_common_fixed(t, prices)),
        (
            ItemRate(
                "caption minute",
                (Charge("translate", f"{len(targets)} target languages", minute),),
            ),
            ItemRate(
                "1,000 characters per target language",
                (Charge("translate", "1,000 characters", 1000 * per_character),),
            ),
        ),
        (
            f"{a.caption_characters_per_minute} characters of caption text per minute",
            f"translated into {len(targets)} languages ({', '.join(targets)}); "
            "real-time and batch translation cost the same per character",
            "nothing bills while no captions arrive",
        ),
    )


def _custom_labels_batch(
    t: Template, others: Mapping[str, Template], prices: PriceList, a: Assumptions
) -> WorkflowCost:
    units = t.number_after("MinInferenceUnits")
    hourly = prices.usd("rekognition.customLabelsInferenceUnitHour")
    per_image = hourly / (a.images_per_inference_unit_second * 3600)
    return WorkflowCost(
        "custom_labels_batch",
        t.name,
        tuple(_common_fixed(t, prices)),
        (
            ItemRate("image", (Charge("rekognition", "inference at full throughput", per_image),)),
            ItemRate(
                "hour the model runs for a batch",
                (Charge("rekognition", f"{units} inference units", units * hourly),),
            ),
        ),
        (
            "the model runs only while a batch is processed (started by the schedule when images "
            "wait, stopped when the queue is empty), so idle hours bill nothing",
            f"{a.images_per_inference_unit_second:g} images a second per inference unit "
            "(the local engine's throughput; measure your model's)",
            "each run bills from the model's start to its stop, including the minutes "
            "spent starting and draining",
        ),
    )


def _comprehend_model_lifecycle(
    t: Template, others: Mapping[str, Template], prices: PriceList, a: Assumptions
) -> WorkflowCost:
    fixed, notes, serving = _endpoints_fixed(t, t.comprehend_endpoints(), prices)
    return WorkflowCost(
        "comprehend_model_lifecycle",
        t.name,
        tuple(_common_fixed(t, prices) + fixed),
        (
            *serving,
            ItemRate(
                "training hour",
                (
                    Charge(
                        "comprehend",
                        "custom classifier training",
                        prices.usd("comprehend.customTrainingHour"),
                    ),
                ),
            ),
        ),
        (
            *notes,
            "each retained older model version adds its model management fee",
        ),
    )


def _comprehend_feedback_loop(
    t: Template, others: Mapping[str, Template], prices: PriceList, a: Assumptions
) -> WorkflowCost:
    owned = [
        name
        for name in t.comprehend_endpoints()
        if not any(name in other.comprehend_endpoints() for other in others.values())
    ]
    shared = sorted(set(t.comprehend_endpoints()) - set(owned))
    fixed, notes, serving = _endpoints_fixed(t, owned, prices)
    call = (
        Charge("apigateway", "REST API request", prices.usd("apigateway.restRequest")),
        _lambda_invocation(t, "ApiHandlerFunction", prices, a),
    )
    return WorkflowCost(
        "comprehend_feedback_loop",
        t.name,
        tuple(_common_fixed(t, prices) + fixed),
        (
            *serving,
            ItemRate("classify call", call),
            ItemRate(
                "item a person reviews",
                (Charge("a2i", "object reviewed", prices.usd("a2i.objectReviewed")),),
            ),
        ),
        (
            *notes,
            *(
                [f"calls endpoint {', '.join(shared)}, counted under the stack that creates it"]
                if shared
                else []
            ),
            f"{a.lambda_seconds_per_invocation:g} s per Lambda invocation",
            "the A2I fee applies only to the items the workflow sends to human review",
        ),
    )


def _ticket_classification(
    t: Template, others: Mapping[str, Template], prices: PriceList, a: Assumptions
) -> WorkflowCost:
    fixed, notes, serving = _endpoints_fixed(t, t.comprehend_endpoints(), prices)
    record_gb = FIREHOSE_RECORD_BYTES / 1024**3
    ticket = (
        _lambda_invocation(t, "TicketClassifierFunction", prices, a),
        Charge(
            "firehose",
            "one record (rounded up to 5 KB)",
            record_gb * prices.usd("firehose.directPutGb"),
        ),
    )
    items = [*serving, ItemRate("ticket", ticket)]
    workgroups = t.of_type("AWS::RedshiftServerless::Workgroup")
    for _, workgroup in workgroups:
        rpus = int(workgroup.get("BaseCapacity", 8))
        copy = rpus * prices.usd("redshift.serverlessRpuHour") * REDSHIFT_MINIMUM_SECONDS / 3600
        items.append(
            ItemRate(
                "Firehose delivery (one COPY into Redshift Serverless)",
                (Charge("redshift", f"{rpus} RPUs for the 60 s minimum", copy),),
            )
        )
    return WorkflowCost(
        "ticket_classification",
        t.name,
        tuple(_common_fixed(t, prices) + fixed),
        tuple(items),
        (
            *notes,
            "two ClassifyDocument calls per ticket, free on a provisioned endpoint; tickets "
            "that arrive while the endpoints are deleted wait in the ticket queue",
            f"{a.lambda_seconds_per_invocation:g} s per Lambda invocation",
            *(
                [
                    "Redshift Serverless bills nothing while idle; at most one delivery per "
                    "Firehose buffer interval under steady traffic"
                ]
                if workgroups
                else []
            ),
        ),
    )


def _glue_ml_pipeline(
    t: Template, others: Mapping[str, Template], prices: PriceList, a: Assumptions
) -> WorkflowCost:
    inference = t.glue_argument("INFERENCE_INSTANCE_TYPE")
    training = t.glue_argument("TRAINING_INSTANCE_TYPE")
    try:
        serverless_memory = int(t.glue_argument("SERVERLESS_MEMORY_MIB"))
    except CostModelError:  # a template from before serverless endpoints: one instance
        serverless_memory = 0
    endpoint_name = t.glue_argument("ENDPOINT_NAME")
    endpoint = [
        Charge(
            "sagemaker",
            f"endpoint {endpoint_name} on 1 x {inference}, always running",
            prices.usd(f"sagemaker.hostingHour.{inference}") * HOURS_PER_MONTH,
        )
    ]
    hosting = "the model endpoint is deployed by the training job and stays up (1 instance)"
    if serverless_memory:
        endpoint = []
        hosting = (
            f"the model endpoint {endpoint_name} is serverless ({serverless_memory} MB, "
            "endpointPolicy scale-to-zero): it bills each request's compute time and nothing "
            "while idle (SageMaker serverless inference rates, not in the price list)"
        )
    dpu_minute = prices.usd("glue.dpuHour") / 60
    minimum: list[Charge] = []
    spark: list[Charge] = []
    for logical_id, job in t.of_type("AWS::Glue::Job"):
        if job.get("WorkerType"):
            dpus = GLUE_WORKER_DPUS[job["WorkerType"]] * int(job.get("NumberOfWorkers", 1))
        else:
            dpus = float(job.get("MaxCapacity", 0.0625))
        minimum.append(Charge("glue", f"{logical_id}, {dpus:g} DPU x 1 minute", dpus * dpu_minute))
        if job.get("Command", {}).get("Name") == "glueetl":
            spark.append(Charge("glue", f"{logical_id}, {dpus:g} DPU", dpus * dpu_minute))
    items = [ItemRate("Glue run, lower bound (each job's 1-minute minimum)", tuple(minimum))]
    items += [ItemRate("minute of Spark processing", tuple(spark))] if spark else []
    items.append(
        ItemRate(
            "minute of training",
            (
                Charge(
                    "sagemaker",
                    f"1 x {training}",
                    prices.usd(f"sagemaker.trainingHour.{training}") / 60,
                ),
            ),
        )
    )
    schedules = [p for _, p in t.of_type("AWS::Glue::Trigger") if p.get("Type") == "SCHEDULED"]
    return WorkflowCost(
        "glue_ml_pipeline",
        t.name,
        tuple([*_common_fixed(t, prices), *endpoint]),
        tuple(items),
        (
            hosting,
            "a run costs the lower bound plus its Spark and training minutes; batch transform "
            "instance time is not counted",
            (
                f"runs on the schedule {schedules[0].get('Schedule')}"
                if schedules
                else "runs only when started (no schedule set)"
            ),
        ),
    )


BUILDERS: dict[str, Builder] = {
    "caption_translation": _caption_translation,
    "custom_labels_batch": _custom_labels_batch,
    "comprehend_model_lifecycle": _comprehend_model_lifecycle,
    "comprehend_feedback_loop": _comprehend_feedback_loop,
    "ticket_classification": _ticket_classification,
    "glue_ml_pipeline": _glue_ml_pipeline,
}


def stack_name(workflow: str, stage: str) -> str:
    if workflow not in BUILDERS:
        raise CostModelError(f"unknown workflow {workflow!r}; choose from {', '.join(WORKFLOWS)}")
    return "".join(word.capitalize() for word in workflow.split("_")) + f"-{stage}"


def workflow_cost(
    workflow: str,
    templates: Mapping[str, Mapping[str, Any]],
    prices: PriceList | None = None,
    assumptions: Assumptions | None = None,
    stage: str = "dev",
) -> WorkflowCost:
    """The cost of one workflow; `templates` maps workflow slugs to stack templates."""
    if workflow not in BUILDERS:
        raise CostModelError(f"unknown workflow {workflow!r}; choose from {', '.join(WORKFLOWS)}")
    if workflow not in templates:
        raise CostModelError(f"no template for {workflow}")
    read = {
        slug: Template(stack_name(slug, stage), document) for slug, document in templates.items()
    }
    own = read.pop(workflow)
    try:
        return BUILDERS[workflow](own, read, prices or load(), assumptions or Assumptions())
    except PriceListError as error:
        raise CostModelError(f"{workflow}: {error}") from error


def report(
    templates: Mapping[str, Mapping[str, Any]],
    stage: str,
    prices: PriceList | None = None,
    assumptions: Assumptions | None = None,
) -> CostReport:
    prices = prices or load()
    assumptions = assumptions or Assumptions()
    return CostReport(
        stage=stage,
        as_of=prices.as_of,
        region=prices.region,
        workflows=tuple(
            workflow_cost(slug, templates, prices, assumptions, stage) for slug in WORKFLOWS
        ),
        assumptions=assumptions,
    )


def synthesized_templates(stage: str, repo_root: Path) -> dict[str, dict[str, Any]]:
    """Synthesizes the app for `stage` with cdk.json's context; each workflow's template."""
    if str(repo_root) not in sys.path:
        sys.path.insert(0, str(repo_root))
    from aws_cdk import App

    cdk_app = importlib.import_module("app")  # the repository's app.py, as `cdk synth` runs it
    with tempfile.TemporaryDirectory(prefix="cost-assembly-") as outdir:
        context = {**cdk_app.cdk_json_context(), "stage": stage}
        app = cdk_app.build_app(App(outdir=outdir, context=context))
        assembly = app.synth()
        by_name = {stack.stack_name: stack.template for stack in assembly.stacks}
    missing = [slug for slug in WORKFLOWS if stack_name(slug, stage) not in by_name]
    if missing:
        raise CostModelError(f"the app synthesized no stack for {', '.join(missing)}")
    return {slug: by_name[stack_name(slug, stage)] for slug in WORKFLOWS}


# --- The README's section ---------------------------------------------------------------------

README_BEGIN = "<!-- costs:begin -->"
README_END = "<!-- costs:end -->"


def readme_section(readme: str) -> str:
    """The text between the README's cost markers."""
    if readme.count(README_BEGIN) != 1 or readme.count(README_END) != 1:
        raise CostModelError(f"the README needs exactly one {README_BEGIN} and one {README_END}")
    return readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip("\n")


def with_readme_section(readme: str, markdown: str) -> str:
    """The README with `markdown` between its cost markers."""
    readme_section(readme)  # exactly one pair of markers
    before, after = readme.split(README_BEGIN, 1)[0], readme.split(README_END, 1)[1]
    return f"{before}{README_BEGIN}\n{markdown.strip()}\n{README_END}{after}"


# --- What a local run would have cost ---------------------------------------------------------


def run_cost(usage: Mapping[str, float], prices: PriceList | None = None) -> dict[str, Any]:
    """USD for metered quantities: `usage` maps a price key (`service.name`) to how many of
    its unit a run used. The result has the total and, per service, each price applied."""
    prices = prices or load()
    services: dict[str, dict[str, Any]] = {}
    for key, quantity in usage.items():
        price = prices.price(key)
        service, name = key.split(".", 1)
        entry = services.setdefault(service, {"usd": 0.0, "items": {}})
        entry["items"][name] = {
            "quantity": round(quantity, 6),
            "unit": price.unit,
            "usdPerUnit": price.usd,
            "usd": round(quantity * price.usd, 6),
        }
        entry["usd"] = round(entry["usd"] + quantity * price.usd, 6)
    return {
        "usd": round(sum(s["usd"] for s in services.values()), 6),
        "byService": services,
        "pricesAsOf": prices.as_of,
        "region": prices.region,
    }


NOT_METERED_LOCALLY = (
    "Lambda, Step Functions, S3, SQS, SNS, DynamoDB, API Gateway, Firehose, Redshift, Glue and "
    "SageMaker (the local cloud does not meter their billed units)"
)


def metered_usage(cloud: Any) -> dict[str, float]:
    """What the local engines metered in a local cloud, as price key -> quantity in its unit.

    Translate counts characters; Comprehend training time, endpoint inference-unit time (on the
    local clock) and asynchronous units; Rekognition Custom Labels billed inference-unit
    minutes and training time; A2I the human loops people completed (one object each)."""
    engines: Mapping[str, Any] = getattr(cloud, "engines", {})
    usage: dict[str, float] = {}
    translate = engines.get("translate")
    if translate is not None:
        usage["translate.characterRealtime"] = translate.usage.realtime_characters
        usage["translate.characterBatch"] = translate.usage.batch_characters
    comprehend = engines.get("comprehend")
    if comprehend is not None:
        comprehend.poll()  # accrue every endpoint's inference units up to the clock
        meter = comprehend.usage
        usage["comprehend.customTrainingHour"] = meter.training_seconds / 3600
        usage["comprehend.customEndpointInferenceUnitSecond"] = meter.inference_unit_seconds
        usage["comprehend.customAsyncUnit"] = meter.async_units
    rekognition = engines.get("rekognition")
    if rekognition is not None:
        meter = rekognition.usage
        usage["rekognition.customLabelsInferenceUnitHour"] = meter.inference_hours()
        usage["rekognition.customLabelsTrainingHour"] = sum(meter.training_seconds.values()) / 3600
    a2i = engines.get("sagemaker-a2i-runtime")
    if a2i is not None:
        with a2i.state.lock:
            loops = list(a2i.state.loops.values())
        usage["a2i.objectReviewed"] = sum(1 for loop in loops if loop.status == "Completed")
    return {key: quantity for key, quantity in usage.items() if quantity}


def local_run_cost(
    cloud: Any, prices: PriceList | None = None, leave_out: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What a demo's run would have cost on AWS, for the services whose engines meter usage;
    `leave_out` maps price keys the workflow itself would not incur to the reason."""
    leave_out = leave_out or {}
    usage = {key: q for key, q in metered_usage(cloud).items() if key not in leave_out}
    result = {**run_cost(usage, prices), "notMetered": NOT_METERED_LOCALLY}
    if leave_out:
        result["leftOut"] = dict(leave_out)
    return result
