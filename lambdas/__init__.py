"""Lambda handler packages. Each workflow has one package; `lambdas.shared` is their common library.

The package is deployed as is: a Lambda asset holds `lambdas/shared` and one workflow package,
so the import paths (`lambdas.caption_translation.start_batch`) are the same in the repository,
in the deployed function and on the local cloud.
"""
