"""The endpoint keeper: deletes idle endpoints and recreates them on demand (see `keeper`)."""
