"""Generate the support-ticket samples for the ticket classification workflow.

Writes two Comprehend CSV files (`label,text`, no header) next to this script, from templates and
vocabularies written for these samples:

* `operation.csv`: ticket texts labelled with the operation the customer asks about (8 labels);
* `resource.csv`: the same texts labelled with the AWS resource involved (10 labels).

Every text names its operation and its resource in varied words (synonyms, service nicknames,
error messages, small talk and noise words) so the classifiers must learn vocabulary rather
than match one phrase; some mention a second resource in passing, and some say what the
customer wants only in the title. `tickets(count, seed)` draws new tickets from the same
generator, with their true labels, for the demo and the tests (a different seed than the
training data).

    python samples/ticket_classification/generate.py [--per-pair 9] [--seed 2024]
"""

from __future__ import annotations

import argparse
import csv
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SEED = 2024
DEFAULT_PER_PAIR = 9

OPERATIONS: dict[str, tuple[str, ...]] = {
    "create": ("create", "launch", "set up", "provision", "spin up", "stand up a new"),
    "delete": ("delete", "remove", "tear down", "terminate", "get rid of", "clean up"),
    "modify": (
        "modify",
        "change the settings of",
        "update the configuration of",
        "resize",
        "edit",
        "reconfigure",
    ),
    "access": (
        "get permission to",
        "access",
        "grant my team access to",
        "log in to",
        "fix an access denied error on",
        "share",
    ),
    "restore": (
        "restore",
        "recover",
        "roll back",
        "bring back a deleted",
        "restore from backup the",
        "undo the loss of",
    ),
    "scale": (
        "scale",
        "add capacity to",
        "autoscale",
        "handle more traffic on",
        "increase the limits of",
        "scale out",
    ),
    "monitor": (
        "monitor",
        "set up alarms for",
        "see metrics of",
        "track the health of",
        "get logs from",
        "watch the usage of",
    ),
    "connect": (
        "connect to",
        "reach",
        "fix a timeout when calling",
        "open network access to",
        "peer with",
        "route traffic to",
    ),
}
RESOURCES: dict[str, tuple[str, ...]] = {
    "ec2": ("EC2 instance", "virtual machine", "compute instance", "EC2 server", "VM"),
    "s3": ("S3 bucket", "object storage bucket", "S3 objects", "bucket", "S3 prefix"),
    "rds": (
        "RDS database",
        "Postgres RDS instance",
        "MySQL database on RDS",
        "relational database",
        "Aurora cluster",
    ),
    "lambda": (
        "Lambda function",
        "serverless function",
        "Lambda",
        "function handler",
        "Lambda alias",
    ),
    "dynamodb": (
        "DynamoDB table",
        "NoSQL table",
        "DynamoDB",
        "table with a partition key",
        "DynamoDB global table",
    ),
    "vpc": (
        "VPC",
        "private subnet",
        "virtual private cloud",
        "subnet and route table",
        "security group",
    ),
    "iam": ("IAM role", "IAM user", "IAM policy", "role and its trust policy", "permission set"),
    "ebs": ("EBS volume", "block storage volume", "gp3 volume", "EBS snapshot", "attached disk"),
    "elb": (
        "load balancer",
        "Application Load Balancer",
        "ELB",
        "target group",
        "network load balancer",
    ),
    "cloudfront": (
        "CloudFront distribution",
        "CDN",
        "CloudFront",
        "edge cache",
        "distribution origin",
    ),
}
TITLES = (
    "Need help to {op} {res}",
    "How do I {op} our {res}?",
    "{Op} {res} request",
    "Cannot {op} {res}",
    "Question: {op} the {res}",
    "Urgent - {op} {res} for production",
)
DESCRIPTIONS = (
    "Hi team, we are trying to {op} a {res} in our {env} account and it does not work. {noise}",
    "Could you explain the steps to {op} the {res} used by the {app} service? {noise}",
    "Since {when} we need to {op} our {res}. {noise} Please advise.",
    "{noise} Our {app} team wants to {op} the {res} before the {event}.",
    "We get an error when we {op} the {res}: {error}. {noise}",
    "Hello, what is the recommended way to {op} a {res} with minimal downtime? {noise}",
)
ENVIRONMENTS = ("production", "staging", "development", "sandbox", "shared services", "QA")
APPS = ("checkout", "reporting", "mobile backend", "billing", "search", "analytics", "CRM")
WHEN = ("yesterday", "last week", "this morning", "the last deployment", "the migration")
EVENTS = ("release", "audit", "quarter end", "migration weekend", "holiday peak")
ERRORS = ("AccessDenied", "InvalidParameterValue", "LimitExceeded", "a 504 timeout",
          "ThrottlingException", "ResourceInUse")  # fmt: skip
NOISE = (
    "Thanks in advance.",
    "This is blocking our release.",
    "Ticket opened by the platform team.",
    "We followed the documentation but something is missing.",
    "Any help is appreciated.",
    "Priority is medium.",
    "",
)

DISTRACTORS = (
    "It is used by a {other} too.",
    "Nothing changed on the {other} side.",
    "The {other} works fine.",
    "We also have a {other} in the same account.",
)
VAGUE = (
    "See title. The {res} is in eu-west-1. {noise}",
    "Details in the attached screenshot of the {res} console. {noise}",
    "{noise} Account 1111-2222-3333, {res} tagged team=payments.",
)


@dataclass(frozen=True)
class SampleTicket:
    ticket_id: str
    title: str
    description: str
    creation_time: str
    operation: str
    resource: str

    def event(self) -> dict[str, str]:
        """The published classifier contract."""
        return {
            "TicketId": self.ticket_id,
            "TicketTitle": self.title,
            "TicketDescription": self.description,
            "TicketCreationTime": self.creation_time,
        }


def _text(rng: random.Random, operation: str, resource: str) -> tuple[str, str]:
    op_title = rng.choice(OPERATIONS[operation])
    op_body = rng.choice(OPERATIONS[operation])
    res_title = rng.choice(RESOURCES[resource])
    res_body = rng.choice(RESOURCES[resource])
    title = rng.choice(TITLES).format(op=op_title, Op=op_title.capitalize(), res=res_title)
    description = rng.choice(DESCRIPTIONS).format(
        op=op_body,
        res=res_body,
        env=rng.choice(ENVIRONMENTS),
        app=rng.choice(APPS),
        when=rng.choice(WHEN),
        event=rng.choice(EVENTS),
        error=rng.choice(ERRORS),
        noise=rng.choice(NOISE),
    )
    if rng.random() < 0.3:
        # A resource mentioned in passing: the ticket is still about the first one.
        other = rng.choice([r for r in RESOURCES if r != resource])
        description += " " + rng.choice(DISTRACTORS).format(other=rng.choice(RESOURCES[other]))
    if rng.random() < 0.2:
        # Only the title says what the customer wants to do.
        description = rng.choice(VAGUE).format(res=res_body, noise=rng.choice(NOISE))
    return title, " ".join(description.split())


def training_rows(per_pair: int, seed: int) -> list[tuple[str, str, str]]:
    """(operation, resource, text) for `per_pair` texts of every (operation, resource)."""
    rng = random.Random(seed)
    rows = []
    for operation in OPERATIONS:
        for resource in RESOURCES:
            for _ in range(per_pair):
                title, description = _text(rng, operation, resource)
                rows.append((operation, resource, f"{title}. {description}"))
    rng.shuffle(rows)
    return rows


def tickets(count: int, seed: int = 7, start: datetime | None = None) -> list[SampleTicket]:
    """`count` new tickets with their true labels, created over the two weeks from `start`."""
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    result = []
    for index in range(count):
        operation = rng.choice(tuple(OPERATIONS))
        resource = rng.choice(tuple(RESOURCES))
        title, description = _text(rng, operation, resource)
        created = start + timedelta(minutes=rng.randrange(14 * 24 * 60))
        result.append(
            SampleTicket(
                ticket_id=f"T-{seed}-{index:05d}",
                title=title,
                description=description,
                creation_time=created.strftime("%Y-%m-%d %H:%M:%S"),
                operation=operation,
                resource=resource,
            )
        )
    return result


def write(per_pair: int = DEFAULT_PER_PAIR, seed: int = DEFAULT_SEED, out: Path = HERE) -> None:
    rows = training_rows(per_pair, seed)
    for name, column in (("operation.csv", 0), ("resource.csv", 1)):
        with (out / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerows((row[column], row[2]) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-pair", type=int, default=DEFAULT_PER_PAIR)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    arguments = parser.parse_args()
    write(arguments.per_pair, arguments.seed)


if __name__ == "__main__":
    main()
