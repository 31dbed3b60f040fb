"""The append-only, hash-chained audit log of every change made by a person or a service."""

from soc.audit.log import AuditEntry, AuditLog, AuditVerification

__all__ = ["AuditEntry", "AuditLog", "AuditVerification"]
