"""A custom resource that removes, on stack deletion, what the workflow created at run time.

State machines and Glue jobs create Comprehend classifiers and endpoints, SageMaker training
jobs, models and endpoints, and start Custom Labels model versions; CloudFormation knows none
of them, so `cdk destroy` would leave them billing. This construct's Delete handler
(`lambdas/cleanup`) stops and deletes them, found by the names the workflow gives them, and
waits (within the function's 15 minutes) until the endpoints are gone.

    RuntimeCleanup(self, "RuntimeCleanup", comprehend_endpoint_arns=[...], protects=[workflow])

`protects` are the constructs that create those resources: they depend on the custom
resource, so CloudFormation deletes them first and nothing starts a new endpoint while the
cleanup runs. The function's role gets exactly the calls its targets need.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, CustomResource, Duration
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from stacks.constructs.acknowledge import acknowledge_wildcards
from stacks.constructs.arns import service_arn
from stacks.constructs.python_function import PythonFunction

RESOURCE_TYPE = "Custom::RuntimeCleanup"
STACK_NAME_TAG = "StackName"
VERSIONS_REASON = (
    "The workflow names these resources at run time under this prefix (classifier "
    "versions, SageMaker jobs, configs and models per run); only they are acted on."
)


def stack_name_tags() -> list[dict[str, str]]:
    """The tag every runtime-created resource carries, so a user can find strays by stack."""
    return [{"Key": STACK_NAME_TAG, "Value": Aws.STACK_NAME}]


class RuntimeCleanup(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        protects: Sequence[IConstruct],
        comprehend_endpoint_arns: Sequence[str] = (),
        comprehend_classifier_names: Sequence[str] = (),
        sagemaker_endpoint_names: Sequence[str] = (),
        sagemaker_name_prefix: str = "",
        rekognition_project_arn: str = "",
        rekognition_version_name: str = "",
        rekognition_version_arn: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PythonFunction(
            self,
            "Function",
            workflow="cleanup",
            handler="destroy.handler",
            description="On stack deletion, removes the endpoints, models and jobs the "
            "workflow created",
            timeout=Duration.minutes(15),
        )
        unscoped = [
            *self._grant_comprehend(comprehend_endpoint_arns, comprehend_classifier_names),
            *self._grant_sagemaker(sagemaker_endpoint_names, sagemaker_name_prefix),
        ]
        if rekognition_project_arn:
            self.function.add_to_policy(
                iam.PolicyStatement(
                    actions=["rekognition:DescribeProjectVersions"],
                    resources=[rekognition_project_arn],
                ),
                iam.PolicyStatement(
                    actions=["rekognition:StopProjectVersion"],
                    resources=[rekognition_version_arn],
                ),
            )
        if unscoped:
            self.function.grant_unscoped(
                "ListPolicy",
                unscoped,
                "These List actions support no resource-level permissions; the cleanup lists "
                "by this workflow's names and acts only on resources the role names.",
            )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={
                "StackName": Aws.STACK_NAME,
                "ComprehendEndpointArns": list(comprehend_endpoint_arns),
                "ComprehendClassifierNames": list(comprehend_classifier_names),
                "SageMakerEndpointNames": list(sagemaker_endpoint_names),
                "SageMakerNamePrefix": sagemaker_name_prefix,
                "RekognitionProjectArn": rekognition_project_arn,
                "RekognitionVersionName": rekognition_version_name,
            },
        )
        # Its grants must outlive its Delete request.
        self.resource.node.add_dependency(self.function)
        for construct in protects:
            construct.node.add_dependency(self.resource)

    def _grant_comprehend(
        self, endpoint_arns: Sequence[str], classifier_names: Sequence[str]
    ) -> list[str]:
        """Grant what deleting the endpoints and classifier versions calls; the List actions
        it needs besides, which take no resource."""
        if endpoint_arns:
            self.function.add_to_policy(
                iam.PolicyStatement(
                    actions=["comprehend:DescribeEndpoint", "comprehend:DeleteEndpoint"],
                    resources=list(endpoint_arns),
                )
            )
        if not classifier_names:
            return []
        versions = [
            f"{service_arn('comprehend')}:document-classifier/{name}/version/*"
            for name in classifier_names
        ]
        self.function.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "comprehend:StopTrainingDocumentClassifier",
                    "comprehend:DeleteDocumentClassifier",
                ],
                resources=versions,
            )
        )
        acknowledge_wildcards(self.function.role, VERSIONS_REASON, *versions)
        return ["comprehend:ListDocumentClassifiers"]

    def _grant_sagemaker(self, endpoint_names: Sequence[str], name_prefix: str) -> list[str]:
        """Grant what deleting the endpoints, and stopping and deleting what runs named under
        `name_prefix`, calls; the List actions it needs besides."""
        sagemaker = service_arn("sagemaker")
        if endpoint_names:
            self.function.add_to_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint"],
                    resources=[f"{sagemaker}:endpoint/{name}" for name in endpoint_names],
                )
            )
        if not name_prefix:
            return []
        grants = {
            "sagemaker:StopTrainingJob": "training-job",
            "sagemaker:StopTransformJob": "transform-job",
            "sagemaker:DeleteEndpointConfig": "endpoint-config",
            "sagemaker:DeleteModel": "model",
        }
        for action, kind in grants.items():
            arn = f"{sagemaker}:{kind}/{name_prefix}*"
            self.function.add_to_policy(iam.PolicyStatement(actions=[action], resources=[arn]))
            acknowledge_wildcards(self.function.role, VERSIONS_REASON, arn)
        return [
            "sagemaker:ListTrainingJobs",
            "sagemaker:ListTransformJobs",
            "sagemaker:ListEndpointConfigs",
            "sagemaker:ListModels",
        ]
