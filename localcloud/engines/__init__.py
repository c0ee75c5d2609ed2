"""Local engines for AWS services moto does not implement or only stubs."""
