"""Admin of the costs app: saves go through its services (portal.admin.AuditedAdmin)."""
