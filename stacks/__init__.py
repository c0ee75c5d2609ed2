"""CDK stacks: one module per workflow; `stacks.constructs` holds the few shared constructs."""
