"""Amazon API Gateway REST APIs: the stack's resources, methods, models, keys and usage plans,
served by `gateway.LocalApiGateway`."""

from localcloud.core.plugins import ServicePlugin
from localcloud.core.provision import provisioners_in
from localcloud.services.apigateway import gateway

PLUGIN = ServicePlugin("apigateway", provisioners=provisioners_in(gateway))
