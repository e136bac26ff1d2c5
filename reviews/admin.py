"""Admin of the reviews app: saves go through its services (portal.admin.AuditedAdmin)."""
