"""boto3 sessions that share botocore's data loader.

A new botocore session reads and parses the endpoint and service model files again (megabytes
of JSON) before its first client exists. The local cloud makes sessions often: one per cloud,
one for Step Functions' tasks, one per Lambda invocation (so that a handler's clients sign with
its role's key, as `boto3.client` does in a fresh execution environment). They all share one
loader, whose cache holds only the files botocore ships, never credentials or configuration.
"""

from __future__ import annotations

import functools

import boto3
import botocore.loaders
import botocore.session


@functools.cache
def shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def new_session() -> boto3.session.Session:
    """A boto3 session as `boto3.session.Session()` makes it, with the shared loader."""
    core = botocore.session.Session()
    core.register_component("data_loader", shared_loader())
    return boto3.session.Session(botocore_session=core)
