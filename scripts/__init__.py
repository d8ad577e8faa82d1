"""Developer tooling: local stack, table creation from serverless.yml."""
