"""Values a stack needs from the user's account that no stack can create: a trained Custom
Labels model, an A2I work team.

Each is a CloudFormation parameter whose default comes from CDK context (`cdk.json` or
`-c <slug>:<key>=<value>`), so `make deploy` and plain `cdk deploy` need nothing more once the
context holds it, `cdk deploy --parameters` can still override it, and the smoke check reads it
back from the deployed stack. A value given in context is checked at synth against the same
pattern CloudFormation enforces at deploy. Without one the parameter has no default, and
`python -m stacks.preflight` (run by `make deploy`) names it and the context key to set.
"""

from __future__ import annotations

import re

from aws_cdk import CfnParameter
from constructs import Construct

from lambdas.shared.errors import ConfigurationError

# The description ends with this sentence; `stacks.preflight` reads the key back from it.
CONTEXT_HINT = "Default from context key {key}."
CONTEXT_HINT_PATTERN = re.compile(r"Default from context key (?P<key>[\w:.-]+)\.$")


def deploy_input(
    scope: Construct, parameter_id: str, *, context_key: str, description: str, pattern: str
) -> CfnParameter:
    value = scope.node.try_get_context(context_key)
    if value is not None and not re.fullmatch(pattern, str(value)):
        raise ConfigurationError(
            f"{context_key} must match {pattern} (the form of {description[0].lower()}"
            f"{description[1:]}), got {value!r}"
        )
    return CfnParameter(
        scope,
        parameter_id,
        type="String",
        description=f"{description}. {CONTEXT_HINT.format(key=context_key)}",
        allowed_pattern=pattern,
        default=None if value is None else str(value),
    )
