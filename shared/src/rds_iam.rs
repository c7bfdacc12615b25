//! RDS IAM database authentication tokens (placeholder; the storage work fills it in).
