"""A local Amazon Redshift warehouse: DuckDB behind the Redshift Data API and Firehose's COPY.

What it emulates:

* Redshift Serverless namespaces and workgroups, and provisioned clusters, as the stack
  declares them (database name, admin user and password); each namespace, and each cluster,
  is one embedded DuckDB database. A cluster's control plane (`DescribeClusters` and the like)
  is moto's; its parameter group settings (`require_ssl`, `enable_user_activity_logging`), node
  type and count, snapshots and audit logging are recorded there but change nothing locally.
* The Redshift Data API (`redshift-data`, through real boto3 clients): `ExecuteStatement`
  (`WorkgroupName` or `ClusterIdentifier`, `Database`, `SecretArn`; the secret is read with the
  caller's own credentials, so the caller needs `secretsmanager:GetSecretValue`, and must hold
  the admin user's name and password; a secret that names a `dbClusterIdentifier` must name
  the cluster it is used on), `DescribeStatement`, `GetStatementResult` (records as
  `Field`s, `ColumnMetadata`, `TotalNumRows`) and `ListStatements`. A statement is `SUBMITTED`,
  then `PICKED`, `STARTED` and `FINISHED` or `FAILED` as a worker thread really runs it;
  asking for the result of an unfinished statement is `ResourceNotFoundException`.
* Firehose delivery to a Redshift destination (moto keeps only the configuration): records are
  buffered per stream until `SizeInMBs` or `IntervalInSeconds` (local clock) is reached, written
  with the Firehose role's credentials to the intermediate bucket under
  `<Prefix>YYYY/MM/DD/HH/<stream>-1-<time>-<uuid>`, listed in a manifest under
  `<Prefix>manifests/...`, and loaded by a COPY that reads the manifest and the objects with
  the same role, authenticates with the secret of `SecretsManagerConfiguration` (or
  `Username`/`Password`), and applies `CopyCommand`: `DataTableName`, `DataTableColumns` and the
  `CopyOptions` `JSON 'auto'` / `JSON 'auto ignorecase'` (keys matched to column names),
  `TIMEFORMAT 'auto'` or a pattern, `TRUNCATECOLUMNS` (strings cut at a character boundary to
  the column's byte length; without it an over-long value fails the load). A COPY loads a file
  entirely or not at all. A failing COPY is retried for `RetryOptions.DurationInSeconds` of
  local time; then the manifest is written under `errors/` and the records are skipped, as
  Firehose does.

How it differs from Redshift: DuckDB runs the SQL, so Redshift-only syntax (DISTKEY, SORTKEY,
ENCODE, IDENTITY, SUPER, system tables such as STL_LOAD_ERRORS) is not available, while
DuckDB's own extensions are; VARCHAR lengths are checked only by COPY, not by INSERT; there
are no users beyond the admin, no GRANTs, no WLM, no concurrency scaling, no result caching,
and every statement runs in its own transaction. Firehose's delivery runs in-process (no
network access to the workgroup is needed or checked) and keeps its buffers in memory.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb

from localcloud.core import moto_hooks
from localcloud.core.protocol import CallContext, LocalEngine, ServiceError, existing

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud

DEFAULT_VARCHAR_BYTES = 256  # Redshift's length of a VARCHAR declared without one
VARCHAR_COLUMN = re.compile(
    r"(?P<name>\w+)\s+(?:VARCHAR|CHARACTER VARYING|NVARCHAR|TEXT|CHAR|CHARACTER|BPCHAR)"
    r"(?:\s*\(\s*(?P<length>\d+|MAX)\s*\))?",
    re.IGNORECASE,
)
CREATE_TABLE = re.compile(
    r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>[\w.\"]+)\s*\((?P<body>.*)\)",
    re.IGNORECASE | re.DOTALL,
)
# Redshift TIMEFORMAT pattern elements and their strptime equivalents.
TIME_ELEMENTS = (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("HH24", "%H"), ("HH", "%H"),
                 ("MI", "%M"), ("SS", "%S"))  # fmt: skip


class StatementError(Exception):
    """A statement failed the way Redshift would report it (the message is the error)."""


@dataclass
class Namespace:
    name: str
    database: str
    admin_username: str
    admin_password: str
    arn: str
    connection: Any = None
    varchar_lengths: dict[str, dict[str, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def execute(self, sql: str) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
        """Run one statement; the column (name, type) pairs and rows of its result."""
        with self.lock:
            try:
                cursor = self.connection.execute(sql)
            except duckdb.Error as error:
                raise StatementError(str(error).splitlines()[0]) from None
            description = cursor.description or []
            rows = cursor.fetchall() if description else []
        self._remember_lengths(sql)
        return [(str(d[0]), str(d[1])) for d in description], rows

    def _remember_lengths(self, sql: str) -> None:
        match = CREATE_TABLE.search(sql)
        if match is None:
            return
        table = match["name"].strip('"').split(".")[-1].lower()
        if table in self.varchar_lengths:
            return
        lengths = {}
        for column in VARCHAR_COLUMN.finditer(match["body"]):
            length = column["length"]
            if length is None:
                lengths[column["name"].lower()] = DEFAULT_VARCHAR_BYTES
            elif length.upper() == "MAX":
                lengths[column["name"].lower()] = 65535
            else:
                lengths[column["name"].lower()] = int(length)
        self.varchar_lengths[table] = lengths

    def columns(self, table: str) -> dict[str, str]:
        with self.lock:
            rows = self.connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
        return {str(name).lower(): str(kind) for name, kind in rows}


@dataclass
class Statement:
    id: str
    sql: str
    database: str
    target: dict[str, str]
    secret_arn: str | None
    principal: str | None
    created: datetime.datetime
    status: str = "SUBMITTED"
    updated: datetime.datetime | None = None
    error: str | None = None
    columns: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    duration_ns: int = -1
    name: str | None = None


class Warehouse:
    """Namespaces, workgroups and clusters of the local cloud, by name."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.namespaces: dict[str, Namespace] = {}
        self.workgroups: dict[str, str] = {}  # workgroup name -> namespace name
        self.clusters: dict[str, str] = {}  # cluster identifier -> its namespace's name
        # Workgroup and cluster ARNs by name: the Data API names a workgroup by name, and IAM
        # authorizes its ARN, which carries the workgroup's id.
        self.target_arns: dict[str, str] = {}
        self._arn_prefix = f"arn:aws:redshift-serverless:{cloud.region}:{cloud.account_id}"

    def add_namespace(self, name: str, database: str, username: str, password: str) -> Namespace:
        if name in self.namespaces:
            raise ValueError(f"a namespace or cluster named {name} exists already")
        arn = f"{self._arn_prefix}:namespace/{uuid.uuid4()}"
        path = ":memory:"
        if self.cloud.work_dir is not None:
            # On disk in the work directory, so `python -m localcloud report` can read it later.
            directory = self.cloud.work_dir / "warehouse"
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f"{name}.duckdb").unlink(missing_ok=True)
            path = str(directory / f"{name}.duckdb")
        namespace = Namespace(name, database, username, password, arn, duckdb.connect(path))
        self.namespaces[name] = namespace
        return namespace

    def add_workgroup(self, name: str, namespace: str) -> str:
        if namespace not in self.namespaces:
            raise ValueError(f"workgroup {name}: namespace {namespace} does not exist")
        self.workgroups[name] = namespace
        arn = f"{self._arn_prefix}:workgroup/{uuid.uuid4()}"
        self.target_arns[name] = arn
        return arn

    def add_cluster(
        self, identifier: str, database: str, username: str, password: str
    ) -> Namespace:
        """A provisioned cluster: its own database, addressed by the cluster identifier."""
        namespace = self.add_namespace(identifier, database, username, password)
        self.clusters[identifier] = identifier
        self.target_arns[identifier] = (
            f"arn:aws:redshift:{self.cloud.region}:{self.cloud.account_id}:cluster:{identifier}"
        )
        return namespace

    def close(self) -> None:
        for namespace in self.namespaces.values():
            with namespace.lock:
                namespace.connection.close()

    def for_workgroup(self, name: str) -> Namespace:
        namespace = self.workgroups.get(name)
        if namespace is None:
            raise ServiceError("ValidationException", f"Workgroup {name} does not exist.")
        return self.namespaces[namespace]

    def for_cluster(self, identifier: str) -> Namespace:
        namespace = self.clusters.get(identifier)
        if namespace is None:
            raise ServiceError("ValidationException", f"Cluster {identifier} not found.")
        return self.namespaces[namespace]

    def for_target(self, target: dict[str, str]) -> Namespace:
        """The database a Data API call names (`WorkgroupName` or `ClusterIdentifier`)."""
        if "ClusterIdentifier" in target:
            return self.for_cluster(target["ClusterIdentifier"])
        return self.for_workgroup(target["WorkgroupName"])

    def by_host(self, host: str) -> Namespace:
        """The endpoint's first label: `<workgroup>.<account>.<region>.redshift-serverless...`
        or `<cluster>.<id>.<region>.redshift.amazonaws.com`."""
        name, _, domain = host.partition(".")
        if domain.endswith(".redshift.amazonaws.com"):
            return self.for_cluster(name)
        return self.for_workgroup(name)

    def query(self, workgroup: str, sql: str) -> list[dict[str, Any]]:
        """Rows of a query as dicts (for the report and the tests; no Data API round trip)."""
        target = {"ClusterIdentifier" if workgroup in self.clusters else "WorkgroupName": workgroup}
        columns, rows = self.for_target(target).execute(sql)
        return [dict(zip((c for c, _ in columns), row, strict=True)) for row in rows]


class RedshiftDataEngine(LocalEngine):
    """The Redshift Data API against the local warehouse."""

    service_name: ClassVar[str] = "redshift-data"

    def __init__(self, cloud: LocalCloud, warehouse: Warehouse) -> None:
        super().__init__(cloud.clock, cloud.account_id, cloud.region)
        self.cloud = cloud
        self.warehouse = warehouse
        self.statements: dict[str, Statement] = {}
        self.firehose: FirehoseRedshiftDelivery | None = None  # set by `start`
        self._queue: list[str] = []
        self._wake = threading.Event()
        self._stopped = False
        self._worker = threading.Thread(target=self._run, name="redshift-data", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        self._worker.join(timeout=5)

    def iam_resources(self, operation: str, params: dict[str, Any]) -> list[str]:
        """The ARN of the workgroup or cluster a request names (for IAM authorization)."""
        target = params.get("WorkgroupName") or params.get("ClusterIdentifier")
        arn = self.warehouse.target_arns.get(str(target)) if target else None
        return [arn] if arn else []

    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        if operation == "ExecuteStatement":
            return self._execute(params, ctx)
        if operation == "DescribeStatement":
            return self._describe(self._statement(params["Id"]))
        if operation == "GetStatementResult":
            return self._result(self._statement(params["Id"]))
        if operation == "ListStatements":
            status = params.get("Status", "ALL")
            with self._lock:
                found = [s for s in self.statements.values() if status in ("ALL", s.status)]
            return {"Statements": [self._summary(s) for s in found]}
        raise ServiceError("UnknownOperationException", f"{operation} is not emulated locally.")

    def _execute(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        workgroup, cluster = params.get("WorkgroupName"), params.get("ClusterIdentifier")
        if bool(workgroup) == bool(cluster):
            raise ServiceError(
                "ValidationException",
                "Exactly one of WorkgroupName and ClusterIdentifier is required.",
            )
        if not params.get("SecretArn") and not params.get("DbUser"):
            raise ServiceError("ValidationException", "SecretArn or DbUser is required.")
        if params.get("DbUser"):
            raise ServiceError(
                "ValidationException",
                "Temporary credentials (DbUser) are not emulated; use SecretArn.",
            )
        target = (
            {"ClusterIdentifier": str(cluster)} if cluster else {"WorkgroupName": str(workgroup)}
        )
        self.warehouse.for_target(target)
        statement = Statement(
            id=str(uuid.uuid4()),
            sql=params["Sql"],
            database=params["Database"],
            target=target,
            secret_arn=params.get("SecretArn"),
            principal=ctx.principal,
            created=self.cloud.clock.now(),
            name=params.get("StatementName"),
        )
        statement.updated = statement.created
        with self._lock:
            self.statements[statement.id] = statement
            self._queue.append(statement.id)
        self._wake.set()
        return {
            "Id": statement.id,
            "CreatedAt": statement.created,
            "Database": statement.database,
            "SecretArn": statement.secret_arn,
            **statement.target,
        }

    def _statement(self, statement_id: str) -> Statement:
        missing = ServiceError("ResourceNotFoundException", f"Query {statement_id} does not exist.")
        with self._lock:
            return existing(self.statements, statement_id, missing)

    def _summary(self, s: Statement) -> dict[str, Any]:
        return {
            "Id": s.id,
            "QueryString": s.sql,
            "Status": s.status,
            "CreatedAt": s.created,
            "UpdatedAt": s.updated or s.created,
            "SecretArn": s.secret_arn,
            "StatementName": s.name,
            "IsBatchStatement": False,
        }

    def _describe(self, s: Statement) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "Id": s.id,
            "Status": s.status,
            "QueryString": s.sql,
            "Database": s.database,
            "SecretArn": s.secret_arn,
            "CreatedAt": s.created,
            "UpdatedAt": s.updated or s.created,
            "Duration": s.duration_ns,
            "HasResultSet": s.status == "FINISHED" and bool(s.columns),
            "ResultRows": len(s.rows) if s.status == "FINISHED" and s.columns else -1,
            "RedshiftPid": 1073741824 + abs(hash(s.id)) % 100000,
            **s.target,
        }
        if s.error:
            answer["Error"] = s.error
        return answer

    def _result(self, s: Statement) -> dict[str, Any]:
        if s.status != "FINISHED" or not s.columns:
            raise ServiceError(
                "ResourceNotFoundException",
                "Query does not have result. Please check query status with DescribeStatement.",
            )
        return {
            "Records": [[_field(value) for value in row] for row in s.rows],
            "ColumnMetadata": [
                {"name": name, "label": name, "typeName": kind.lower(), "nullable": 1}
                for name, kind in s.columns
            ],
            "TotalNumRows": len(s.rows),
        }

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(0.1)
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._queue:
                        break
                    statement = self.statements[self._queue.pop(0)]
                    statement.status = "PICKED"
                self._run_one(statement)

    def _run_one(self, s: Statement) -> None:
        started = time.monotonic()
        s.status, s.updated = "STARTED", self.cloud.clock.now()
        try:
            namespace = self.warehouse.for_target(s.target)
            self._authenticate(namespace, s)
            if s.database != namespace.database:
                raise StatementError(f'database "{s.database}" does not exist')
            s.columns, s.rows = namespace.execute(s.sql)
            s.status = "FINISHED"
        except (StatementError, ServiceError) as error:
            s.error = error.message if isinstance(error, ServiceError) else str(error)
            s.status = "FAILED"
        except Exception as error:  # an engine fault is the statement's failure, not a hang
            s.error = f"internal error: {error}"
            s.status = "FAILED"
        s.duration_ns = int((time.monotonic() - started) * self.cloud.clock.speed * 1e9)
        s.updated = self.cloud.clock.now()

    def _authenticate(self, namespace: Namespace, s: Statement) -> None:
        """The Data API reads the secret with the caller's permissions."""
        if s.principal is None or s.secret_arn is None:
            secretsmanager = self.cloud.client("secretsmanager")
        else:
            secretsmanager = self.cloud.client_as(s.principal, "secretsmanager")
        try:
            secret = json.loads(
                secretsmanager.get_secret_value(SecretId=s.secret_arn)["SecretString"]
            )
        except Exception as error:
            raise StatementError(f"could not read the secret {s.secret_arn}: {error}") from None
        cluster = s.target.get("ClusterIdentifier")
        named = secret.get("dbClusterIdentifier")
        if cluster and named and named != cluster:
            raise StatementError(f"the secret is for cluster {named}, not for cluster {cluster}")
        check_credentials(namespace, secret.get("username"), secret.get("password"))

    def wait(self, statement_id: str, timeout: float = 30.0) -> Statement:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statement = self._statement(statement_id)
            if statement.status in ("FINISHED", "FAILED", "ABORTED"):
                return statement
            time.sleep(0.005)
        raise TimeoutError(statement_id)


def check_credentials(namespace: Namespace, username: Any, password: Any) -> None:
    if username != namespace.admin_username or password != namespace.admin_password:
        raise StatementError(f'password authentication failed for user "{username}"')


def _field(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, datetime.datetime):
        return {"stringValue": value.strftime("%Y-%m-%d %H:%M:%S")}
    return {"stringValue": str(value)}


# --- Firehose -> S3 -> COPY ----------------------------------------------------------------------


@dataclass
class CopyOptions:
    json_auto: bool = False
    ignore_case: bool = False
    time_format: str | None = None  # strptime pattern, or None for 'auto'
    truncate_columns: bool = False
    gzip: bool = False


def parse_copy_options(options: str) -> CopyOptions:
    """The COPY options the local COPY understands; anything else fails the load with its name,
    rather than being silently ignored."""
    parsed = CopyOptions()
    rest = " ".join(options.split())
    pattern = re.compile(
        r"^(?:FORMAT\s+(?:AS\s+)?)?JSON\s+'(?P<json>[^']*)'|^TIMEFORMAT\s+(?:AS\s+)?'(?P<time>[^']*)'"
        r"|^TRUNCATECOLUMNS|^GZIP|^ACCEPTINVCHARS|^BLANKSASNULL|^EMPTYASNULL",
        re.IGNORECASE,
    )
    while rest:
        match = pattern.match(rest)
        if match is None:
            raise StatementError(f"COPY option not supported by the local warehouse: {rest!r}")
        token = match.group(0).upper()
        if match["json"] is not None:
            mode = match["json"].lower()
            if mode not in ("auto", "auto ignorecase"):
                raise StatementError("only JSON 'auto' and 'auto ignorecase' are emulated")
            parsed.json_auto, parsed.ignore_case = True, mode == "auto ignorecase"
        elif match["time"] is not None:
            parsed.time_format = (
                None if match["time"].lower() == "auto" else _strptime(match["time"])
            )
        elif token == "TRUNCATECOLUMNS":
            parsed.truncate_columns = True
        elif token == "GZIP":
            parsed.gzip = True
        rest = rest[match.end() :].strip()
    if not parsed.json_auto:
        raise StatementError("the local COPY loads JSON records only (FORMAT AS JSON 'auto')")
    return parsed


def _strptime(redshift_format: str) -> str:
    result = redshift_format
    for element, directive in TIME_ELEMENTS:
        result = result.replace(element, directive)
    return result


def json_records(data: bytes) -> list[dict[str, Any]]:
    """JSON objects one after the other (Firehose adds no delimiter), whitespace between."""
    text = data.decode("utf-8")
    decoder = json.JSONDecoder()
    records: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return records
        try:
            record, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as error:
            raise StatementError(f"Invalid JSON at character {error.pos}: {error.msg}") from None
        if not isinstance(record, dict):
            raise StatementError("each JSON record must be an object for JSON 'auto'")
        records.append(record)


def _cell(value: Any, column: str, kind: str, max_bytes: int | None, options: CopyOptions) -> Any:
    if value is None:
        return None
    if kind.upper().startswith("TIMESTAMP"):
        text = str(value)
        try:
            if options.time_format is None:
                return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(
                    tzinfo=None
                )
            return datetime.datetime.strptime(text, options.time_format)
        except ValueError:
            raise StatementError(
                f"Invalid timestamp format for column {column}: {text!r}"
            ) from None
    if isinstance(value, dict | list):
        value = json.dumps(value)
    if max_bytes is not None and isinstance(value, str):
        encoded = value.encode("utf-8")
        if len(encoded) > max_bytes:
            if not options.truncate_columns:
                raise StatementError(
                    f"String length exceeds DDL length: column {column} "
                    f"({len(encoded)} > {max_bytes})"
                )
            value = encoded[:max_bytes].decode("utf-8", errors="ignore")
    return value


def copy_into(
    namespace: Namespace,
    table: str,
    columns: list[str],
    options: CopyOptions,
    files: list[bytes],
) -> int:
    """Load every record of `files` into `table` in one transaction; the number of rows."""
    table = table.lower()
    existing = namespace.columns(table)
    if not existing:
        raise StatementError(f'relation "{table}" does not exist')
    targets = columns or list(existing)
    unknown = [c for c in targets if c.lower() not in existing]
    if unknown:
        raise StatementError(f'column "{unknown[0]}" of relation "{table}" does not exist')
    lengths = namespace.varchar_lengths.get(table, {})
    rows = []
    for data in files:
        for record in json_records(data):
            keys = {k.lower(): v for k, v in record.items()} if options.ignore_case else record
            rows.append(
                tuple(
                    _cell(keys.get(c), c, existing[c.lower()], lengths.get(c.lower()), options)
                    for c in targets
                )
            )
    placeholders = ", ".join("?" for _ in targets)
    with namespace.lock:
        connection = namespace.connection
        connection.execute("BEGIN TRANSACTION")
        try:
            if rows:
                connection.executemany(
                    f"INSERT INTO {table} ({', '.join(targets)}) VALUES ({placeholders})", rows
                )
            connection.execute("COMMIT")
        except duckdb.Error as error:
            connection.execute("ROLLBACK")
            raise StatementError(str(error).splitlines()[0]) from None
    return len(rows)


@dataclass
class _Buffer:
    records: list[bytes] = field(default_factory=list)
    size: int = 0
    first_at: float = 0.0


@dataclass
class _PendingLoad:
    manifest_key: str
    keys: list[str]
    first_failure: float | None = None
    last_error: str | None = None


class FirehoseRedshiftDelivery:
    """Delivery of Firehose streams with a Redshift destination (see the module docstring)."""

    def __init__(self, cloud: LocalCloud, warehouse: Warehouse) -> None:
        self.cloud = cloud
        self.warehouse = warehouse
        self.buffers: dict[str, _Buffer] = {}
        self.loads: dict[str, list[_PendingLoad]] = {}
        self.delivered_rows: dict[str, int] = {}
        self.errors: list[tuple[str, str]] = []  # (stream, reason) of skipped loads
        self._lock = threading.Lock()
        self._busy = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="firehose-redshift", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped = True
        self._thread.join(timeout=5)

    def _config(self, stream: str) -> dict[str, Any] | None:
        destinations = moto_hooks.firehose_destinations(
            self.cloud.account_id, self.cloud.region, stream
        )
        for destination in destinations or ():
            if "Redshift" in destination:
                return dict(destination["Redshift"])
        return None

    def accept(self, stream: str, records: list[dict[str, Any]]) -> None:
        if self._config(stream) is None:
            return
        now = self.cloud.clock.time()
        with self._lock:
            buffer = self.buffers.setdefault(stream, _Buffer())
            if not buffer.records:
                buffer.first_at = now
            for record in records:
                data = record["Data"]
                # moto hands over the wire form of the blob: base64 text.
                buffer.records.append(data if isinstance(data, bytes) else base64.b64decode(data))
                buffer.size += len(buffer.records[-1])

    def pending(self) -> int:
        """Records buffered or staged but not yet loaded (or skipped)."""
        with self._lock:
            buffered = sum(len(b.records) for b in self.buffers.values())
            staged = sum(len(loads) for loads in self.loads.values())
        return buffered + staged + (1 if self._busy.is_set() else 0)

    def wait_idle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return
            time.sleep(0.01)
        raise TimeoutError(f"Firehose still holds {self.pending()} records or loads")

    def _run(self) -> None:
        while not self._stopped:
            self._busy.set()
            try:
                self._step()
            except Exception as error:  # keep delivering; record what went wrong
                self.errors.append(("*", f"delivery fault: {error}"))
            finally:
                self._busy.clear()
            time.sleep(0.01)

    def _step(self) -> None:
        now = self.cloud.clock.time()
        due: list[tuple[str, list[bytes]]] = []
        with self._lock:
            for stream, buffer in self.buffers.items():
                if not buffer.records:
                    continue
                config = self._config(stream)
                hints = _s3_configuration(config or {}).get("BufferingHints", {})
                interval = float(hints.get("IntervalInSeconds", 300))
                size = float(hints.get("SizeInMBs", 5)) * 1024 * 1024
                if buffer.size >= size or now - buffer.first_at >= interval:
                    due.append((stream, buffer.records))
                    self.buffers[stream] = _Buffer()
        for stream, records in due:
            self._stage(stream, records)
        for stream in list(self.loads):
            self._load(stream)

    def _stage(self, stream: str, records: list[bytes]) -> None:
        config = self._config(stream)
        if config is None:
            return
        s3_config = _s3_configuration(config)
        bucket = s3_config["BucketARN"].split(":::", 1)[1]
        prefix = s3_config.get("Prefix", "")
        s3 = self.cloud.client_as(s3_config["RoleARN"], "s3")
        when = self.cloud.clock.now()
        name = f"{stream}-1-{when:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        key = f"{prefix}{when:%Y/%m/%d/%H}/{name}"
        s3.put_object(Bucket=bucket, Key=key, Body=b"".join(records))
        manifest_key = f"{prefix}manifests/{when:%Y/%m/%d/%H}/{name}"
        manifest = {"entries": [{"url": f"s3://{bucket}/{key}", "mandatory": True}]}
        s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
        with self._lock:
            self.loads.setdefault(stream, []).append(_PendingLoad(manifest_key, [key]))

    def _load(self, stream: str) -> None:
        with self._lock:
            loads = list(self.loads.get(stream, []))
        config = self._config(stream)
        if config is None:
            return
        for load in loads:
            try:
                rows = self._copy(config, load)
            except StatementError as error:
                now = self.cloud.clock.time()
                load.first_failure = load.first_failure or now
                load.last_error = str(error)
                retry = float(config.get("RetryOptions", {}).get("DurationInSeconds", 3600))
                if now - load.first_failure < retry:
                    return  # loads stay in order: retry this one before the next
                self._skip(config, load)
                self.errors.append((stream, str(error)))
            else:
                self.delivered_rows[stream] = self.delivered_rows.get(stream, 0) + rows
            with self._lock:
                self.loads[stream].remove(load)

    def _copy(self, config: dict[str, Any], load: _PendingLoad) -> int:
        role = config["RoleARN"]
        url = config["ClusterJDBCURL"]
        match = re.match(r"^jdbc:(?:redshift|postgresql)://([^:/]+):\d+/(.+)$", url)
        if match is None:
            raise StatementError(f"cannot connect to {url}")
        try:
            namespace = self.warehouse.by_host(match[1])
        except ServiceError as error:
            raise StatementError(error.message) from None
        if match[2] != namespace.database:
            raise StatementError(f'database "{match[2]}" does not exist')
        username, password = self._credentials(config)
        check_credentials(namespace, username, password)
        copy = config["CopyCommand"]
        options = parse_copy_options(copy.get("CopyOptions", ""))
        columns = [c.strip() for c in copy.get("DataTableColumns", "").split(",") if c.strip()]
        s3 = self.cloud.client_as(role, "s3")
        bucket = _s3_configuration(config)["BucketARN"].split(":::", 1)[1]
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=load.manifest_key)["Body"].read())
        files = []
        for entry in manifest["entries"]:
            entry_bucket, _, entry_key = entry["url"].removeprefix("s3://").partition("/")
            files.append(s3.get_object(Bucket=entry_bucket, Key=entry_key)["Body"].read())
        return copy_into(namespace, copy["DataTableName"], columns, options, files)

    def _credentials(self, config: dict[str, Any]) -> tuple[Any, Any]:
        secrets = config.get("SecretsManagerConfiguration") or {}
        if secrets.get("Enabled"):
            role = secrets.get("RoleARN") or config["RoleARN"]
            client = self.cloud.client_as(role, "secretsmanager")
            try:
                value = json.loads(
                    client.get_secret_value(SecretId=secrets["SecretARN"])["SecretString"]
                )
            except Exception as error:
                raise StatementError(f"could not read {secrets['SecretARN']}: {error}") from None
            return value.get("username"), value.get("password")
        return config.get("Username"), config.get("Password")

    def _skip(self, config: dict[str, Any], load: _PendingLoad) -> None:
        """After the retry duration, Firehose skips the files and leaves their manifest under
        errors/ for a manual COPY."""
        s3_config = _s3_configuration(config)
        bucket = s3_config["BucketARN"].split(":::", 1)[1]
        s3 = self.cloud.client_as(s3_config["RoleARN"], "s3")
        body = s3.get_object(Bucket=bucket, Key=load.manifest_key)["Body"].read()
        name = load.manifest_key.rsplit("/", 1)[-1]
        s3.put_object(Bucket=bucket, Key=f"errors/manifests/{name}", Body=body)


def _s3_configuration(config: dict[str, Any]) -> dict[str, Any]:
    """The intermediate bucket's settings (moto stores them as the description shape)."""
    return dict(config.get("S3Configuration") or config.get("S3DestinationDescription") or {})


def start(cloud: LocalCloud, patches: Any) -> None:
    """Add the warehouse, the Data API engine and Firehose's Redshift delivery to `cloud`."""
    warehouse = Warehouse(cloud)
    engine = RedshiftDataEngine(cloud, warehouse)
    delivery = FirehoseRedshiftDelivery(cloud, warehouse)
    engine.firehose = delivery
    cloud.engines["redshift-data"] = engine
    cloud.busy_checks.append(lambda: delivery.pending() > 0)  # `settle` waits for loads
    moto_hooks.after_firehose_record_batch(patches, delivery.accept)
    # Undone last first: the threads stop before the databases close.
    patches.on_undo(warehouse.close)
    patches.on_undo(engine.stop)
    patches.on_undo(delivery.stop)
