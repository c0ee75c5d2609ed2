"""CloudFormation's part for Redshift: Redshift Serverless namespaces and workgroups, and
provisioned clusters with their parameter and subnet groups, created in the local warehouse
(`localcloud.services.redshift.engine`) and, for clusters, in moto's control plane."""

from __future__ import annotations

from typing import Any

from localcloud.core.provision import (
    NotEmulatedError,
    ProvisionRequest,
    _state,
    provisioner,
    resolve_secret_references,
)
from localcloud.core.template import ResourceState


def _warehouse(request: ProvisionRequest) -> Any:
    return request.cloud.engines["redshift-data"].warehouse


@provisioner("AWS::RedshiftServerless::Namespace")
def _namespace(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props["NamespaceName"]
    password = resolve_secret_references(request, str(props.get("AdminUserPassword", "")))
    if props.get("ManageAdminPassword"):
        raise NotEmulatedError(f"{name}: ManageAdminPassword is not emulated; use a secret")
    namespace = _warehouse(request).add_namespace(
        name, props.get("DbName", "dev"), props.get("AdminUsername", "admin"), password
    )
    return _state(
        request,
        name,
        **{
            "Namespace.NamespaceArn": namespace.arn,
            "Namespace.NamespaceName": name,
            "Namespace.DbName": namespace.database,
            "Namespace.NamespaceId": namespace.arn.rsplit("/", 1)[-1],
        },
    )


@provisioner("AWS::RedshiftServerless::Workgroup")
def _workgroup(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props["WorkgroupName"]
    arn = _warehouse(request).add_workgroup(name, props["NamespaceName"])
    address = (
        f"{name}.{request.ctx.account_id}.{request.ctx.region}.redshift-serverless.amazonaws.com"
    )
    return _state(
        request,
        name,
        **{
            "Workgroup.WorkgroupArn": arn,
            "Workgroup.WorkgroupName": name,
            "Workgroup.WorkgroupId": arn.rsplit("/", 1)[-1],
            "Workgroup.Endpoint.Address": address,
            "Workgroup.Endpoint.Port": int(props.get("Port", 5439)),
        },
    )


def _group(
    request: ProvisionRequest, name_property: str, operation: str, **arguments: Any
) -> ResourceState:
    """Create a cluster's parameter or subnet group in moto's control plane with Redshift's
    `operation`: named by its `name_property` (the API's parameter of the same name) or a
    generated lower-case name, and described by its `Description` or else its name."""
    props = request.properties
    name = props.get(name_property) or request.physical_name(255, lower=True)
    getattr(request.client("redshift"), operation)(
        **{name_property: name}, Description=props.get("Description", name), **arguments
    )
    return _state(request, name)


@provisioner("AWS::Redshift::ClusterParameterGroup")
def _cluster_parameter_group(request: ProvisionRequest) -> ResourceState:
    """The group exists in moto's control plane; its parameters are not applied locally."""
    family = request.properties["ParameterGroupFamily"]
    return _group(
        request, "ParameterGroupName", "create_cluster_parameter_group", ParameterGroupFamily=family
    )


@provisioner("AWS::Redshift::ClusterSubnetGroup")
def _cluster_subnet_group(request: ProvisionRequest) -> ResourceState:
    """Subnets must exist (in moto's EC2), as CreateClusterSubnetGroup requires."""
    subnets = list(request.properties["SubnetIds"])
    return _group(
        request, "ClusterSubnetGroupName", "create_cluster_subnet_group", SubnetIds=subnets
    )


# CreateCluster's rules for MasterUserPassword.
PASSWORD_FORBIDDEN = set("'\"\\/@ ")


def check_master_password(password: str) -> None:
    if not 8 <= len(password) <= 64:
        raise ValueError("MasterUserPassword must be 8 to 64 characters long")
    groups = (str.isupper, str.islower, str.isdigit)
    if not all(any(test(c) for c in password) for test in groups):
        raise ValueError(
            "MasterUserPassword needs an uppercase letter, a lowercase one and a digit"
        )
    if PASSWORD_FORBIDDEN & set(password) or any(not 33 <= ord(c) <= 126 for c in password):
        raise ValueError("MasterUserPassword may hold printable ASCII other than ' \" \\ / @")


@provisioner("AWS::Redshift::Cluster")
def _cluster(request: ProvisionRequest) -> ResourceState:
    """The cluster in moto's control plane (DescribeClusters answers) and its database in the
    local warehouse; `Endpoint.Address` is moto's `<identifier>.<id>.<region>.redshift...`."""
    props = request.properties
    if props.get("ManageMasterPassword"):
        raise NotEmulatedError("ManageMasterPassword is not emulated; use a secret reference")
    identifier = str(props.get("ClusterIdentifier") or request.physical_name(63, lower=True))
    password = resolve_secret_references(request, str(props.get("MasterUserPassword", "")))
    check_master_password(password)
    arguments: dict[str, Any] = {
        "ClusterIdentifier": identifier,
        "NodeType": props["NodeType"],
        "MasterUsername": props["MasterUsername"],
        "MasterUserPassword": password,
        "DBName": props.get("DBName", "dev"),
        "ClusterType": props["ClusterType"],
        "Port": int(props.get("Port", 5439)),
    }
    if props["ClusterType"] == "multi-node":
        arguments["NumberOfNodes"] = int(props["NumberOfNodes"])
    for key in (
        "ClusterParameterGroupName",
        "ClusterSubnetGroupName",
        "VpcSecurityGroupIds",
        "PubliclyAccessible",
        "Encrypted",
        "KmsKeyId",
        "AutomatedSnapshotRetentionPeriod",
        "AllowVersionUpgrade",
        "EnhancedVpcRouting",
    ):
        if key in props:
            arguments[key] = props[key]
    for key in ("PubliclyAccessible", "Encrypted", "AllowVersionUpgrade", "EnhancedVpcRouting"):
        if key in arguments:
            arguments[key] = str(arguments[key]).lower() == "true"
    if "AutomatedSnapshotRetentionPeriod" in arguments:
        arguments["AutomatedSnapshotRetentionPeriod"] = int(
            arguments["AutomatedSnapshotRetentionPeriod"]
        )
    client = request.client("redshift")
    cluster = client.create_cluster(**arguments)["Cluster"]
    namespace = _warehouse(request).add_cluster(
        identifier, arguments["DBName"], arguments["MasterUsername"], password
    )
    endpoint = client.describe_clusters(ClusterIdentifier=identifier)["Clusters"][0]["Endpoint"]
    return _state(
        request,
        identifier,
        **{
            "Endpoint.Address": endpoint["Address"],
            "Endpoint.Port": str(endpoint["Port"]),
            "ClusterNamespaceArn": cluster.get("ClusterNamespaceArn", namespace.arn),
        },
    )
