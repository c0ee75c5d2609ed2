"""The custom resource that removes, when its stack is deleted, what a workflow created at run
time (endpoints, models, jobs, running model versions): CloudFormation does not know them."""
