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

import hashlib
from pathlib import Path

from aws_cdk import Aws, CfnMapping, CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.constructs import AccessLogsBucket, NotificationTopic, QueueWithDlq, SecureBucket
from stacks.constructs.acknowledge import acknowledge
from stacks.constructs.runtime_cleanup import RuntimeCleanup
from stacks.glue_job_library import library_modules, wheel_asset
from stacks.glue_ml_pipeline_settings import BLAZINGTEXT_ACCOUNTS, GluePipelineSettings

GLUE_JOBS = Path(__file__).resolve().parents[1] / "glue_jobs" / "glue_ml_pipeline"
JOBS = ("DataExtractionJob", "DataProcessingJob", "TrainingJob", "MessagingQueueJob")
FAILED_STATES = ("FAILED", "TIMEOUT", "STOPPED")


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
        digest = hashlib.sha256(construct_id.encode()).hexdigest()[:8]
        name_prefix = f"gmp-{digest}"
        endpoint_name = f"{name_prefix}-endpoint"
        workflow_name = f"{stage[:1].upper()}{stage[1:]}MLWorkflow"
        parameter_root = f"/{construct_id}"
        arn = f"arn:{Aws.PARTITION}"
        sagemaker_arn = f"{arn}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        workflow_arn = f"{arn}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:workflow/{workflow_name}"

        access_logs = AccessLogsBucket(self, "AccessLogs")
        bucket = SecureBucket(self, "PipelineBucket", access_logs=access_logs)
        # Where the dead-letter alarm notifies (subscribe an operator to AlarmTopicArn).
        alarms = NotificationTopic(self, "AlarmNotifications")
        messages = QueueWithDlq(
            self,
            "RunMessages",
            visibility_timeout=Duration.minutes(5),
            retention=Duration.days(14),
            alarm_topic=alarms,
        )
        CfnOutput(self, "AlarmTopicArn", value=alarms.topic_arn)

        # SSM: where operators and other tools find the pipeline's resources and live model.
        accuracy_parameter = f"{parameter_root}/model/accuracy"
        model_parameter = f"{parameter_root}/model/name"
        parameters = {
            "bucket": bucket.bucket_name,
            "queue-url": messages.queue.queue_url,
            "workflow": workflow_name,
            "endpoint": endpoint_name,
        }
        for key, value in parameters.items():
            ssm.StringParameter(
                self,
                f"{key.title().replace('-', '')}Parameter",
                parameter_name=f"{parameter_root}/{key}",
                string_value=value,
                description=f"GlueMlPipeline {stage}: {key}",
            )
        for construct, name in (("ModelAccuracyParameter", accuracy_parameter),
                                ("ModelNameParameter", model_parameter)):  # fmt: skip
            # "none" until the first model is deployed; TrainingJob overwrites it.
            ssm.StringParameter(
                self, construct, parameter_name=name, string_value="none",
                description="Written by TrainingJob when it deploys a model",
            )  # fmt: skip
        parameter_arns = [
            f"{arn}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{name}"
            for name in (accuracy_parameter, model_parameter)
        ]

        # SageMaker's execution role: reads the channels, writes models and transform output.
        sagemaker_role = iam.Role(
            self,
            "SageMakerExecutionRole",
            description="SageMaker training, transform and hosting of the pipeline's models",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        bucket.grant_prefix(sagemaker_role, ["s3:GetObject"], "processed/*", "training/*")
        bucket.grant_prefix(sagemaker_role, ["s3:PutObject"], "training/*")
        bucket.grant_list(sagemaker_role, ["s3:ListBucket"], "processed/*", "training/*")
        sagemaker_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{arn}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/*"],
            )
        )
        acknowledge(
            sagemaker_role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
            "<AWS::AccountId>:log-group:/aws/sagemaker/*]",
            "SageMaker writes training, transform and endpoint logs to log groups and streams "
            "it names per job under /aws/sagemaker/.",
        )

        # The shared modules in the form each job type takes (see stacks.glue_job_library):
        # a .zip for the Spark job, a wheel for the Python shell jobs.
        spark_library = assets.Asset(
            self,
            "JobLibrary",
            path=str(GLUE_JOBS),
            exclude=["*", *(f"!{module.name}" for module in library_modules(GLUE_JOBS))],
        )
        wheel = wheel_asset(self, GLUE_JOBS)
        wheel_bucket = s3.Bucket.from_bucket_name(self, "JobWheelBucket", wheel.bucket_name)
        libraries = {
            True: (spark_library.s3_object_url,
                   spark_library.bucket.arn_for_objects(spark_library.s3_object_key)),
            False: (wheel.s3_object_url, wheel_bucket.arn_for_objects(wheel.object_key)),
        }  # fmt: skip
        scripts = {
            job: assets.Asset(self, f"{job}Script", path=str(GLUE_JOBS / f"{module}.py"))
            for job, module in zip(
                JOBS,
                ("data_extraction_job", "data_processing_job", "training_job",
                 "messaging_queue_job"),
                strict=True,
            )
        }  # fmt: skip
        source_uri = settings.source_uri or f"s3://{bucket.bucket_name}/source/dbpedia.csv"
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
        training_minutes = (
            settings.max_training_minutes
            + settings.max_transform_minutes
            + settings.max_endpoint_minutes
            + 15
        )
        polls = {
            "MAX_TRAINING_POLLS": settings.max_training_minutes * 60 // settings.poll_seconds,
            "MAX_TRANSFORM_POLLS": settings.max_transform_minutes * 60 // settings.poll_seconds,
            "MAX_ENDPOINT_POLLS": settings.max_endpoint_minutes * 60 // settings.poll_seconds,
        }
        arguments: dict[str, dict[str, str]] = {
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
                "--NAME_PREFIX": name_prefix,
                "--TRAINING_IMAGE": image,
                "--SAGEMAKER_ROLE_ARN": sagemaker_role.role_arn,
                "--TRAINING_INSTANCE_TYPE": settings.training_instance_type,
                "--INFERENCE_INSTANCE_TYPE": settings.inference_instance_type,
                "--HYPERPARAMETERS": ",".join(f"{k}={v}" for k, v in settings.hyperparameters),
                "--ENDPOINT_NAME": endpoint_name,
                "--ACCURACY_PARAMETER": accuracy_parameter,
                "--MODEL_PARAMETER": model_parameter,
                "--MIN_IMPROVEMENT": str(settings.min_improvement),
                "--POLL_SECONDS": str(settings.poll_seconds),
                **{f"--{k}": str(max(1, v)) for k, v in polls.items()},
                "--MAX_RUNTIME_SECONDS": str(settings.max_training_minutes * 60),
                "--STACK_NAME": Aws.STACK_NAME,
                # scale-to-zero: a serverless endpoint (nothing billed while idle).
                "--SERVERLESS_MEMORY_MIB": str(
                    settings.serverless_memory_mib if settings.serverless else 0
                ),
                "--SERVERLESS_MAX_CONCURRENCY": str(settings.serverless_max_concurrency),
            },
            "MessagingQueueJob": {"--QUEUE_URL": messages.queue.queue_url},
        }

        roles: dict[str, iam.Role] = {}
        jobs: dict[str, glue.CfnJob] = {}
        for job in JOBS:
            role = iam.Role(
                self,
                f"{job}Role",
                description=f"The {job} of the Glue ML pipeline",
                assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            )
            spark = job == "DataProcessingJob"
            library_url, library_arn = libraries[spark]
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[
                        scripts[job].bucket.arn_for_objects(scripts[job].s3_object_key),
                        library_arn,
                    ],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{arn}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws-glue/*"],
                )
            )
            acknowledge(
                role.node.find_child("DefaultPolicy"),
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
                "<AWS::AccountId>:log-group:/aws-glue/*]",
                "Glue writes job output and error logs to its /aws-glue/ log "
                "groups with streams named per job run.",
            )
            job_arguments = {
                "--BUCKET": bucket.bucket_name,
                "--extra-py-files": library_url,
                "--job-bookmark-option": "job-bookmark-disable",
                **arguments[job],
            }
            jobs[job] = glue.CfnJob(
                self,
                job,
                name=f"{construct_id}-{job}",
                description=f"Glue ML pipeline {stage}: {job}",
                role=role.role_arn,
                command=glue.CfnJob.JobCommandProperty(
                    name="glueetl" if spark else "pythonshell",
                    python_version="3" if spark else "3.9",
                    script_location=scripts[job].s3_object_url,
                ),
                glue_version="5.0" if spark else "3.0",
                worker_type="G.1X" if spark else None,
                number_of_workers=2 if spark else None,
                max_capacity=None if spark else 0.0625,
                default_arguments=job_arguments,
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
                acknowledge(jobs[job], rule, reason)
            roles[job] = role

        run_properties = iam.PolicyStatement(
            actions=["glue:GetWorkflowRunProperties"], resources=[workflow_arn]
        )
        for job in JOBS:
            if job != "DataExtractionJob":
                roles[job].add_to_policy(run_properties)
            if job != "MessagingQueueJob":
                roles[job].add_to_policy(
                    iam.PolicyStatement(
                        actions=["glue:PutWorkflowRunProperties"], resources=[workflow_arn]
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
                    resources=[f"{arn}:s3:::{source_bucket}/{source_key}"],
                )
            )
        bucket.grant_prefix(processing, ["s3:GetObject"], "raw/*")
        bucket.grant_prefix(processing, ["s3:PutObject"], "processed/*", "rejects/*")
        bucket.grant_prefix(training, ["s3:GetObject"], "processed/*", "training/*")
        bucket.grant_prefix(training, ["s3:PutObject"], "training/*")
        bucket.grant_list(training, ["s3:ListBucket"], "processed/*")
        named = f"{name_prefix}-*"
        training.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                ],
                resources=[f"{sagemaker_arn}:training-job/{named}"],
            )
        )
        training.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateModel"], resources=[f"{sagemaker_arn}:model/{named}"]
            )
        )
        training.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                ],
                resources=[f"{sagemaker_arn}:transform-job/{named}"],
            )
        )
        training.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateEndpointConfig"],
                resources=[f"{sagemaker_arn}:endpoint-config/{named}"],
            )
        )
        training.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"],
                resources=[
                    f"{sagemaker_arn}:endpoint/{endpoint_name}",
                    f"{sagemaker_arn}:endpoint-config/{named}",
                ],
            )
        )
        training.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpoint"],
                resources=[f"{sagemaker_arn}:endpoint/{endpoint_name}"],
            )
        )
        # Resources are created with the stack's name as a tag: SageMaker authorizes the tags
        # of a create call as sagemaker:AddTags on the new resource.
        training.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:AddTags"],
                resources=[
                    f"{sagemaker_arn}:{kind}/{named}"
                    for kind in ("training-job", "model", "transform-job", "endpoint-config")
                ]
                + [f"{sagemaker_arn}:endpoint/{endpoint_name}"],
            )
        )
        training.add_to_policy(
            # The live model's name: the gate scores it on this run's test split.
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter_arns[1]])
        )
        training.add_to_policy(
            iam.PolicyStatement(actions=["ssm:PutParameter"], resources=parameter_arns)
        )
        training.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[sagemaker_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        for kind in ("training-job", "model", "transform-job", "endpoint-config"):
            acknowledge(
                training.node.find_child("DefaultPolicy"),
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
                f"<AWS::AccountId>:{kind}/{named}]",
                f"SageMaker {kind}s of this pipeline are named '{name_prefix}-<run digest>' "
                "per workflow run, so a retried job finds its own resources.",
            )
        messaging.add_to_policy(
            iam.PolicyStatement(actions=["glue:GetWorkflowRun"], resources=[workflow_arn])
        )
        messaging.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[messages.queue.queue_arn])
        )

        workflow = glue.CfnWorkflow(
            self,
            "MLWorkflow",
            name=workflow_name,
            description=f"Glue ML pipeline ({stage}): extract, process, train, notify",
            max_concurrent_runs=1,
        )
        start = glue.CfnTrigger(
            self,
            "StartTrigger",
            name=f"{workflow_name}-start",
            workflow_name=workflow_name,
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
                name=f"{workflow_name}-{construct}",
                workflow_name=workflow_name,
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
        # On stack deletion (after the workflow, its triggers and jobs): the endpoint, and every
        # training job still running, transform job, endpoint config and model of the runs.
        RuntimeCleanup(
            self,
            "RuntimeCleanup",
            sagemaker_endpoint_names=[endpoint_name],
            sagemaker_name_prefix=f"{name_prefix}-",
            protects=[workflow, *jobs.values()],
        )

        CfnOutput(self, "BucketName", value=bucket.bucket_name)
        CfnOutput(self, "QueueUrl", value=messages.queue.queue_url)
        CfnOutput(self, "WorkflowName", value=workflow_name)
        CfnOutput(self, "EndpointName", value=endpoint_name)
        CfnOutput(self, "SourceUri", value=source_uri)
        CfnOutput(self, "ModelAccuracyParameterName", value=accuracy_parameter)
        CfnOutput(self, "SageMakerRoleArn", value=sagemaker_role.role_arn)
