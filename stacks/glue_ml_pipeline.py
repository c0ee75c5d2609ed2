"""GlueMlPipeline: the notebook-to-pipeline architecture on AWS Glue and Amazon SageMaker.

A Glue workflow, `<Stage>MLWorkflow`, chains four jobs with triggers: DataExtractionJob copies
the DBpedia-style CSV from its source into `raw/`; DataProcessingJob (Spark) cleans, tokenises
and splits it into BlazingText channels under `processed/` (rejected rows with reasons under
`rejects/`); TrainingJob trains BlazingText on SageMaker, scores the candidate and the live
model on the same test split with batch transforms, and moves the endpoint only to a better
model; MessagingQueueJob sends the run's outcome (success or failure) to an SQS queue.
Resource names go to SSM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, CfnMapping, Duration, Fn, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks import stack_digest
from stacks.config import max_polls
from stacks.constructs import AccessLogsBucket, QueueWithDlq, SecureBucket
from stacks.constructs.acknowledge import acknowledge, acknowledge_wildcards
from stacks.constructs.arns import service_arn
from stacks.constructs.outputs import add_outputs
from stacks.constructs.runtime_cleanup import RuntimeCleanup
from stacks.constructs.service_role import ServiceRole
from stacks.constructs.topic import operator_alarm_topic
from stacks.glue_job_library import library_modules, wheel_asset
from stacks.glue_ml_pipeline_settings import BLAZINGTEXT_ACCOUNTS, GluePipelineSettings

GLUE_JOBS = Path(__file__).resolve().parents[1] / "glue_jobs" / "glue_ml_pipeline"
JOBS = ("DataExtractionJob", "DataProcessingJob", "TrainingJob", "MessagingQueueJob")
FAILED_STATES = ("FAILED", "TIMEOUT", "STOPPED")


@dataclass(frozen=True)
class _Names:
    """What the pipeline names: its run-time SageMaker resources, Glue workflow and SSM
    parameters."""

    prefix: str
    endpoint: str
    workflow: str
    parameter_root: str

    @classmethod
    def of(cls, stack_name: str, stage: str) -> _Names:
        prefix = f"gmp-{stack_digest(stack_name)}"
        return cls(
            prefix=prefix,
            endpoint=f"{prefix}-endpoint",
            workflow=f"{stage[:1].upper()}{stage[1:]}MLWorkflow",
            parameter_root=f"/{stack_name}",
        )

    @property
    def accuracy_parameter(self) -> str:
        return f"{self.parameter_root}/model/accuracy"

    @property
    def model_parameter(self) -> str:
        return f"{self.parameter_root}/model/name"

    @property
    def workflow_arn(self) -> str:
        return f"{service_arn('glue')}:workflow/{self.workflow}"


@dataclass(frozen=True)
class _JobCode:
    """Where each job's script is, and the shared modules in the form each job type takes
    (see stacks.glue_job_library): a .zip for the Spark job, a wheel for the Python shell
    jobs; each as (S3 URL, object ARN)."""

    scripts: dict[str, assets.Asset]
    spark_library: tuple[str, str]
    shell_library: tuple[str, str]


class GlueMlPipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        settings: GluePipelineSettings,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        names = _Names.of(construct_id, stage)

        access_logs = AccessLogsBucket(self, "AccessLogs")
        bucket = SecureBucket(self, "PipelineBucket", access_logs=access_logs)
        messages = QueueWithDlq(
            self,
            "RunMessages",
            visibility_timeout=Duration.minutes(5),
            retention=Duration.days(14),
            alarm_topic=operator_alarm_topic(self),
        )
        self._parameters(stage, names, bucket, messages.queue)
        sagemaker_role = self._sagemaker_role(bucket)
        code = self._job_code()
        source_uri = settings.source_uri or f"s3://{bucket.bucket_name}/source/dbpedia.csv"
        arguments = self._job_arguments(settings, names, source_uri, sagemaker_role, messages.queue)
        roles: dict[str, ServiceRole] = {}
        jobs: dict[str, glue.CfnJob] = {}
        for job in JOBS:
            roles[job], jobs[job] = self._job(
                job, construct_id, stage, settings, code, bucket, arguments[job]
            )
        self._grant_jobs(settings, names, bucket, roles, sagemaker_role, messages.queue)
        workflow = self._workflow(stage, names, settings, jobs)
        # On stack deletion (after the workflow, its triggers and jobs): the endpoint, and every
        # training job still running, transform job, endpoint config and model of the runs.
        RuntimeCleanup(
            self,
            "RuntimeCleanup",
            sagemaker_endpoint_names=[names.endpoint],
            sagemaker_name_prefix=f"{names.prefix}-",
            protects=[workflow, *jobs.values()],
        )
        add_outputs(
            self,
            BucketName=bucket.bucket_name,
            QueueUrl=messages.queue.queue_url,
            WorkflowName=names.workflow,
            EndpointName=names.endpoint,
            SourceUri=source_uri,
            ModelAccuracyParameterName=names.accuracy_parameter,
            SageMakerRoleArn=sagemaker_role.role_arn,
        )

    def _parameters(
        self, stage: str, names: _Names, bucket: s3.IBucket, messages: sqs.IQueue
    ) -> None:
        """SSM: where operators and other tools find the pipeline's resources and live
        model."""
        parameters = {
            "bucket": bucket.bucket_name,
            "queue-url": messages.queue_url,
            "workflow": names.workflow,
            "endpoint": names.endpoint,
        }
        for key, value in parameters.items():
            ssm.StringParameter(
                self,
                f"{key.title().replace('-', '')}Parameter",
                parameter_name=f"{names.parameter_root}/{key}",
                string_value=value,
                description=f"GlueMlPipeline {stage}: {key}",
            )
        for construct, name in (("ModelAccuracyParameter", names.accuracy_parameter),
                                ("ModelNameParameter", names.model_parameter)):  # fmt: skip
            # "none" until the first model is deployed; TrainingJob overwrites it.
            ssm.StringParameter(
                self, construct, parameter_name=name, string_value="none",
                description="Written by TrainingJob when it deploys a model",
            )  # fmt: skip

    def _sagemaker_role(self, bucket: SecureBucket) -> ServiceRole:
        """SageMaker's execution role: reads the channels, writes models and transform
        output."""
        role = ServiceRole(
            self,
            "SageMakerExecutionRole",
            service="sagemaker",
            description="SageMaker training, transform and hosting of the pipeline's models",
            source_account=Aws.ACCOUNT_ID,
        )
        bucket.grant_prefix(role, ["s3:GetObject"], "processed/*", "training/*")
        bucket.grant_prefix(role, ["s3:PutObject"], "training/*")
        bucket.grant_list(role, ["s3:ListBucket"], "processed/*", "training/*")
        role.grant_log_groups(
            "/aws/sagemaker/*",
            "SageMaker writes training, transform and endpoint logs to log groups and streams "
            "it names per job under /aws/sagemaker/.",
        )
        return role

    def _job_code(self) -> _JobCode:
        spark_library = assets.Asset(
            self,
            "JobLibrary",
            path=str(GLUE_JOBS),
            exclude=["*", *(f"!{module.name}" for module in library_modules(GLUE_JOBS))],
        )
        wheel = wheel_asset(self, GLUE_JOBS)
        wheel_bucket = s3.Bucket.from_bucket_name(self, "JobWheelBucket", wheel.bucket_name)
        scripts = {
            job: assets.Asset(self, f"{job}Script", path=str(GLUE_JOBS / f"{module}.py"))
            for job, module in zip(
                JOBS,
                ("data_extraction_job", "data_processing_job", "training_job",
                 "messaging_queue_job"),
                strict=True,
            )
        }  # fmt: skip
        return _JobCode(
            scripts=scripts,
            spark_library=(
                spark_library.s3_object_url,
                spark_library.bucket.arn_for_objects(spark_library.s3_object_key),
            ),
            shell_library=(wheel.s3_object_url, wheel_bucket.arn_for_objects(wheel.object_key)),
        )

    def _job_arguments(
        self,
        settings: GluePipelineSettings,
        names: _Names,
        source_uri: str,
        sagemaker_role: iam.IRole,
        messages: sqs.IQueue,
    ) -> dict[str, dict[str, str]]:
        """Each job's own `--ARGUMENTS`."""
        image = settings.training_image or Fn.join(
            "",
            [
                CfnMapping(
                    self,
                    "BlazingTextRegistry",
                    mapping={r: {"account": a} for r, a in BLAZINGTEXT_ACCOUNTS.items()},
                ).find_in_map(Aws.REGION, "account"),
                f".dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/blazingtext:1",
            ],
        )
        polls = {
            "MAX_TRAINING_POLLS": settings.max_training_minutes,
            "MAX_TRANSFORM_POLLS": settings.max_transform_minutes,
            "MAX_ENDPOINT_POLLS": settings.max_endpoint_minutes,
        }
        return {
            "DataExtractionJob": {"--SOURCE_URI": source_uri},
            "DataProcessingJob": {
                "--SEED": str(settings.seed),
                "--VALIDATION_FRACTION": str(settings.validation_fraction),
                "--TEST_FRACTION": str(settings.test_fraction),
                "--MAX_REJECT_RATIO": str(settings.max_reject_ratio),
                "--EXPECTED_CLASSES": str(settings.expected_classes),
                "--MIN_ROWS_PER_CLASS": str(settings.min_rows_per_class),
            },
            "TrainingJob": {
                "--NAME_PREFIX": names.prefix,
                "--TRAINING_IMAGE": image,
                "--SAGEMAKER_ROLE_ARN": sagemaker_role.role_arn,
                "--TRAINING_INSTANCE_TYPE": settings.training_instance_type,
                "--INFERENCE_INSTANCE_TYPE": settings.inference_instance_type,
                "--HYPERPARAMETERS": ",".join(f"{k}={v}" for k, v in settings.hyperparameters),
                "--ENDPOINT_NAME": names.endpoint,
                "--ACCURACY_PARAMETER": names.accuracy_parameter,
                "--MODEL_PARAMETER": names.model_parameter,
                "--MIN_IMPROVEMENT": str(settings.min_improvement),
                "--POLL_SECONDS": str(settings.poll_seconds),
                **{
                    f"--{key}": str(max_polls(minutes, settings.poll_seconds))
                    for key, minutes in polls.items()
                },
                "--MAX_RUNTIME_SECONDS": str(settings.max_training_minutes * 60),
                "--STACK_NAME": Aws.STACK_NAME,
                # scale-to-zero: a serverless endpoint (nothing billed while idle).
                "--SERVERLESS_MEMORY_MIB": str(
                    settings.serverless_memory_mib if settings.serverless else 0
                ),
                "--SERVERLESS_MAX_CONCURRENCY": str(settings.serverless_max_concurrency),
            },
            "MessagingQueueJob": {"--QUEUE_URL": messages.queue_url},
        }

    def _job(
        self,
        job: str,
        construct_id: str,
        stage: str,
        settings: GluePipelineSettings,
        code: _JobCode,
        bucket: s3.IBucket,
        arguments: dict[str, str],
    ) -> tuple[ServiceRole, glue.CfnJob]:
        """One Glue job (the Spark job, DataProcessingJob, or a Python shell job) and its
        role, which may read its script and the shared modules and write its logs."""
        role = ServiceRole(
            self, f"{job}Role", service="glue", description=f"The {job} of the Glue ML pipeline"
        )
        spark = job == "DataProcessingJob"
        library_url, library_arn = code.spark_library if spark else code.shell_library
        script = code.scripts[job]
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[script.bucket.arn_for_objects(script.s3_object_key), library_arn],
            )
        )
        role.grant_log_groups(
            "/aws-glue/*",
            "Glue writes job output and error logs to its /aws-glue/ log "
            "groups with streams named per job run.",
        )
        training_minutes = (
            settings.max_training_minutes
            + settings.max_transform_minutes
            + settings.max_endpoint_minutes
            + 15
        )
        definition = glue.CfnJob(
            self,
            job,
            name=f"{construct_id}-{job}",
            description=f"Glue ML pipeline {stage}: {job}",
            role=role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl" if spark else "pythonshell",
                python_version="3" if spark else "3.9",
                script_location=script.s3_object_url,
            ),
            glue_version="5.0" if spark else "3.0",
            worker_type="G.1X" if spark else None,
            number_of_workers=2 if spark else None,
            max_capacity=None if spark else 0.0625,
            default_arguments={
                "--BUCKET": bucket.bucket_name,
                "--extra-py-files": library_url,
                "--job-bookmark-option": "job-bookmark-disable",
                **arguments,
            },
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            # Extraction and training resume idempotently; processing is deterministic,
            # so a retry would fail the same way; a message is sent at most twice.
            max_retries=0 if spark else 1,
            timeout=training_minutes if job == "TrainingJob" else 60,
        )
        for rule, reason in (
            ("AwsSolutions-GL1", "The job logs hold run ids, counts and error reasons, no "
             "dataset text; they stay in the account's /aws-glue/ log groups."),
            ("AwsSolutions-GL3", "Job bookmarks are disabled (--job-bookmark-option "
             "job-bookmark-disable): there is no bookmark state to encrypt."),
        ):  # fmt: skip
            acknowledge(definition, rule, reason)
        return role, definition

    def _grant_jobs(
        self,
        settings: GluePipelineSettings,
        names: _Names,
        bucket: SecureBucket,
        roles: dict[str, ServiceRole],
        sagemaker_role: iam.IRole,
        messages: sqs.IQueue,
    ) -> None:
        """What each job's code calls: run properties, its prefixes, SageMaker, SSM, SQS."""
        run_properties = iam.PolicyStatement(
            actions=["glue:GetWorkflowRunProperties"], resources=[names.workflow_arn]
        )
        for job in JOBS:
            if job != "DataExtractionJob":
                roles[job].add_to_policy(run_properties)
            if job != "MessagingQueueJob":
                roles[job].add_to_policy(
                    iam.PolicyStatement(
                        actions=["glue:PutWorkflowRunProperties"], resources=[names.workflow_arn]
                    )
                )
        extraction, processing = roles["DataExtractionJob"], roles["DataProcessingJob"]
        training, messaging = roles["TrainingJob"], roles["MessagingQueueJob"]
        bucket.grant_prefix(extraction, ["s3:PutObject"], "raw/*")
        if settings.source_uri is None:
            bucket.grant_prefix(extraction, ["s3:GetObject"], "source/*")
        elif settings.source_uri.startswith("s3://"):
            source_bucket, _, source_key = settings.source_uri[5:].partition("/")
            extraction.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{source_bucket}/{source_key}"],
                )
            )
        bucket.grant_prefix(processing, ["s3:GetObject"], "raw/*")
        bucket.grant_prefix(processing, ["s3:PutObject"], "processed/*", "rejects/*")
        bucket.grant_prefix(training, ["s3:GetObject"], "processed/*", "training/*")
        bucket.grant_prefix(training, ["s3:PutObject"], "training/*")
        bucket.grant_list(training, ["s3:ListBucket"], "processed/*")
        self._grant_training(names, training, sagemaker_role)
        messaging.add_to_policy(
            iam.PolicyStatement(actions=["glue:GetWorkflowRun"], resources=[names.workflow_arn])
        )
        messaging.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[messages.queue_arn])
        )

    def _grant_training(
        self, names: _Names, training: ServiceRole, sagemaker_role: iam.IRole
    ) -> None:
        """TrainingJob runs SageMaker: training and transform jobs, models, endpoint configs
        named `<prefix>-<run digest>`, and the one endpoint."""
        sagemaker = service_arn("sagemaker")
        named = f"{names.prefix}-*"
        endpoint = f"{sagemaker}:endpoint/{names.endpoint}"
        per_run = {
            kind: f"{sagemaker}:{kind}/{named}"
            for kind in ("training-job", "model", "transform-job", "endpoint-config")
        }
        parameter_arns = [
            f"{service_arn('ssm')}:parameter{name}"
            for name in (names.accuracy_parameter, names.model_parameter)
        ]
        for actions, resources in (
            (
                ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob",
                 "sagemaker:StopTrainingJob"],
                [per_run["training-job"]],
            ),
            (["sagemaker:CreateModel"], [per_run["model"]]),
            (
                ["sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob",
                 "sagemaker:StopTransformJob"],
                [per_run["transform-job"]],
            ),
            (["sagemaker:CreateEndpointConfig"], [per_run["endpoint-config"]]),
            (
                ["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"],
                [endpoint, per_run["endpoint-config"]],
            ),
            (["sagemaker:DescribeEndpoint"], [endpoint]),
            # Resources are created with the stack's name as a tag: SageMaker authorizes the
            # tags of a create call as sagemaker:AddTags on the new resource.
            (["sagemaker:AddTags"], [*per_run.values(), endpoint]),
            # The live model's name: the gate scores it on this run's test split.
            (["ssm:GetParameter"], [parameter_arns[1]]),
            (["ssm:PutParameter"], parameter_arns),
        ):  # fmt: skip
            training.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        training.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[sagemaker_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        for kind, arn in per_run.items():
            acknowledge_wildcards(
                training,
                f"SageMaker {kind}s of this pipeline are named '{names.prefix}-<run digest>' "
                "per workflow run, so a retried job finds its own resources.",
                arn,
            )

    def _workflow(
        self,
        stage: str,
        names: _Names,
        settings: GluePipelineSettings,
        jobs: dict[str, glue.CfnJob],
    ) -> glue.CfnWorkflow:
        """The Glue workflow: a start trigger (on demand or scheduled), then each job after
        the one before it, and the message after whichever job ends the run."""
        workflow = glue.CfnWorkflow(
            self,
            "MLWorkflow",
            name=names.workflow,
            description=f"Glue ML pipeline ({stage}): extract, process, train, notify",
            max_concurrent_runs=1,
        )
        start = glue.CfnTrigger(
            self,
            "StartTrigger",
            name=f"{names.workflow}-start",
            workflow_name=names.workflow,
            type="SCHEDULED" if settings.schedule else "ON_DEMAND",
            schedule=settings.schedule,
            start_on_creation=True if settings.schedule else None,
            actions=[glue.CfnTrigger.ActionProperty(job_name=jobs["DataExtractionJob"].name)],
        )

        def conditional(
            construct: str, conditions: list[tuple[str, str]], target: str, logical: str = "AND"
        ) -> glue.CfnTrigger:
            return glue.CfnTrigger(
                self,
                construct,
                name=f"{names.workflow}-{construct}",
                workflow_name=names.workflow,
                type="CONDITIONAL",
                start_on_creation=True,
                predicate=glue.CfnTrigger.PredicateProperty(
                    logical=logical,
                    conditions=[
                        glue.CfnTrigger.ConditionProperty(
                            logical_operator="EQUALS", job_name=jobs[job].name, state=state
                        )
                        for job, state in conditions
                    ],
                ),
                actions=[glue.CfnTrigger.ActionProperty(job_name=jobs[target].name)],
            )

        triggers = [
            start,
            conditional(
                "AfterExtraction", [("DataExtractionJob", "SUCCEEDED")], "DataProcessingJob"
            ),
            conditional("AfterProcessing", [("DataProcessingJob", "SUCCEEDED")], "TrainingJob"),
            # One message per run, whatever its outcome: the training job's end, or the failure
            # of any job before it.
            conditional(
                "Notify",
                [("TrainingJob", "SUCCEEDED")]
                + [
                    (job, state)
                    for job in ("DataExtractionJob", "DataProcessingJob", "TrainingJob")
                    for state in FAILED_STATES
                ],
                "MessagingQueueJob",
                logical="ANY",
            ),
        ]
        for trigger in triggers:
            trigger.node.add_dependency(workflow)
            for definition in jobs.values():
                trigger.node.add_dependency(definition)
        return workflow
