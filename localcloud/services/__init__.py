"""The services the local cloud emulates beyond moto, one package each, with its plugin
(`localcloud.core.plugins`). A service package imports the core, never another service."""

from localcloud.services import (
    a2i,
    apigateway,
    cloudformation,
    comprehend,
    firehose,
    glue,
    redshift,
    rekognition,
    sagemaker,
    translate,
)

SERVICES = (
    apigateway.PLUGIN,
    cloudformation.PLUGIN,
    firehose.PLUGIN,
    translate.PLUGIN,
    comprehend.PLUGIN,
    glue.PLUGIN,
    sagemaker.PLUGIN,
    rekognition.PLUGIN,
    a2i.PLUGIN,
    redshift.PLUGIN,
)
