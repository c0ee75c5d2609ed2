"""The local cloud: AWS emulated offline on moto, plus local engines for the ML services.

It deploys the synthesized CloudFormation templates from `cdk.out`, runs the real handler modules
in-process, delivers events between services, and records every AWS call for the least-privilege
check. See docs/local-cloud.md for what it emulates and how it differs from AWS.
"""
