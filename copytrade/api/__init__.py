"""REST API v1 (issue 13, "REST API and webhook"), served under /api/v1/.

Reads are scoped to the requesting user (another user's id answers 404);
writes call the same services as the dashboard's pages. The webhook under
/api/v1/webhooks/ is routing's own and not part of this package.
"""
